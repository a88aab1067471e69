// Ferry's own maintenance commands on a host (the rollback's snapshot check, snapshot pruning) give up after
// MAINTENANCE_COMMAND_TIMEOUT_MS instead of holding the project's publish lock for ever: a real sshd whose every
// command hangs (ForceCommand sleep), the way a stuck host or a hung disk would. The limit is shortened here so the
// test takes seconds.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSshd, type SshdHandle } from '../kit/sshd.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { publishToHost, rollbackHost } from '../../src/deploy/release.ts';
import type { RemoteSession } from '../../src/deploy/types.ts';

vi.mock('../../src/config.ts', async (importOriginal) => ({ ...(await importOriginal<object>()), MAINTENANCE_COMMAND_TIMEOUT_MS: 1500 }));

let sshd: SshdHandle;
let session: RemoteSession;
let slowFind: SshdHandle;
let slowFindSession: RemoteSession;

beforeAll(async () => {
  sshd = await startSshd({ extraConfig: ['ForceCommand sleep 30'] });
  session = await createSshTransport().connect(sshd.target());
  // A host whose `find` hangs: only the pruning step of a publish uses it, when a package part some earlier job left
  // behind is there to look at (HOME moved so no login file runs it).
  const bin = join(sshd.rootDir, 'slow-bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'find'), '#!/bin/sh\nexec sleep 30\n');
  chmodSync(join(bin, 'find'), 0o755);
  slowFind = await startSshd({ extraConfig: [`SetEnv HOME=${bin} PATH=${bin}:/usr/local/bin:/usr/bin:/bin`] });
  slowFindSession = await createSshTransport().connect(slowFind.target());
}, 60_000);

afterAll(async () => {
  await Promise.all([session?.close(), slowFindSession?.close()]);
  await Promise.all([sshd?.stop(), slowFind?.stop()]);
});

describe('maintenance command timeout', () => {
  it('the rollback snapshot check on a host that never finishes fails with a timeout instead of waiting for ever', async () => {
    const started = Date.now();
    const result = await rollbackHost({ session, deployDir: sshd.dir, jobIds: [7] });
    expect(result).toMatchObject({ ok: false, restoredJobIds: [] });
    expect(result.error).toMatch(/timed out after/);
    expect(Date.now() - started).toBeLessThan(8000);
  }, 15_000);


  it('a publish whose snapshot pruning hangs is stopped at the limit: the files are in place, the host succeeds with a warning', async () => {
    const build = join(slowFind.rootDir, 'build');
    mkdirSync(join(build, 'conf'), { recursive: true });
    writeFileSync(join(build, 'conf/app.ini'), 'published\n');
    const packagePath = join(slowFind.rootDir, 'package.tar.gz');
    await createTar({ gzip: true, file: packagePath, cwd: build }, ['conf/app.ini']);
    mkdirSync(join(slowFind.dir, '.ferry/incoming'), { recursive: true });
    writeFileSync(join(slowFind.dir, '.ferry/incoming/3.pkg.part'), 'left behind by a dropped connection');
    const packageSha256 = createHash('sha256').update(readFileSync(packagePath)).digest('hex');
    const started = Date.now();
    const result = await publishToHost({ session: slowFindSession, deployDir: slowFind.dir, jobId: 9, packagePath, packageSha256, manifestPaths: ['conf/app.ini'] });
    expect(result).toMatchObject({ ok: true, phase: 'done', snapshotTaken: true });
    expect(result.warnings.join('\n')).toMatch(/cleaning up failed on .*: command timed out after/);
    expect(readFileSync(join(slowFind.dir, 'conf/app.ini'), 'utf8')).toBe('published\n');
    expect(Date.now() - started).toBeLessThan(8000);
  }, 15_000);
});
