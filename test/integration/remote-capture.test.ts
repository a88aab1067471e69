// How much of a remote command's output Ferry keeps, against a real sshd on 127.0.0.1: a bounded tail for commands,
// a bounded tail for every command (a rollback no longer reads remote files: the host restores from its own lists).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_CAPTURE_CHARS } from '../../src/config.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import type { RemoteSession } from '../../src/deploy/types.ts';
import { startSshd, type SshdHandle } from '../kit/sshd.ts';

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
});
