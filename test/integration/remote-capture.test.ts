// How much of a remote command's output Ferry keeps, against a real sshd on 127.0.0.1: a bounded tail for commands,
// whole files (up to a larger bound) for the snapshot lists a rollback reads.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_CAPTURE_CHARS, REMOTE_FILE_CAPTURE_CHARS } from '../../src/config.ts';
import { readRemoteFile } from '../../src/deploy/remote.ts';
import { createSshTransport } from '../../src/deploy/transport.ts';
import type { RemoteSession } from '../../src/deploy/types.ts';
import { startSshd, type SshdHandle } from '../helpers/sshd.ts';

describe('remote output capture', () => {
  let sshd: SshdHandle;
  let session: RemoteSession;

  beforeAll(async () => {
    sshd = await startSshd();
    session = await createSshTransport().connect(sshd.target(), { connectTimeoutMs: 10_000 });
  });
  afterAll(async () => {
    await session?.close();
    await sshd?.stop();
  });

  it('keeps only the last MB of a command that prints 40 MB, with a line saying how much was dropped', async () => {
    expect(COMMAND_CAPTURE_CHARS).toBeLessThanOrEqual(1024 * 1024);
    const result = await session.exec('head -c 41943040 /dev/zero | tr "\\0" "x"; printf "\\nlast line\\n"', { timeoutMs: 60_000 });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\[… 3\d\.\d MB of output dropped …\]\n/);
    expect(result.stdout.endsWith('x\nlast line\n')).toBe(true);
    expect(result.stdout.length).toBeLessThan(COMMAND_CAPTURE_CHARS + 100);
  });

  it('reads a snapshot list of 20,000 long paths whole, beyond the command tail', async () => {
    const paths = Array.from({ length: 20_000 }, (_, i) => `web/assets/images/gallery/${String(i).padStart(6, '0')}/${'very-long-file-name-'.repeat(5)}.png`);
    const list = `${paths.join('\0')}\0`;
    expect(list.length).toBeGreaterThan(COMMAND_CAPTURE_CHARS);
    const path = join(sshd.rootDir, 'job-1.created');
    writeFileSync(path, list);
    expect(await readRemoteFile(session, path)).toBe(list);
    expect(await readRemoteFile(session, `${path}.none`)).toBeNull();
  });

  it('refuses a remote file larger than it reads with a plain error, not as a missing file', async () => {
    const path = join(sshd.rootDir, 'huge.created');
    writeFileSync(path, Buffer.alloc(REMOTE_FILE_CAPTURE_CHARS + 10, 0x61));
    await expect(readRemoteFile(session, path)).rejects.toThrow(/huge\.created on .* is larger than 16\.0 MB/);
  });
});
