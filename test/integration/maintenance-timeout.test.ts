// Ferry's own maintenance commands on a host (the rollback's snapshot check, snapshot pruning) give up after
// MAINTENANCE_COMMAND_TIMEOUT_MS instead of holding the project's publish lock for ever: a real sshd whose every
// command hangs (ForceCommand sleep), the way a stuck host or a hung disk would. The limit is shortened here so the
// test takes seconds.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSshd, type SshdHandle } from '../helpers/sshd.ts';
import { createSshTransport } from '../../src/deploy/transport.ts';
import { rollbackHost } from '../../src/deploy/release.ts';
import type { RemoteSession } from '../../src/deploy/types.ts';

vi.mock('../../src/config.ts', async (importOriginal) => ({ ...(await importOriginal<object>()), MAINTENANCE_COMMAND_TIMEOUT_MS: 1500 }));

let sshd: SshdHandle;
let session: RemoteSession;

beforeAll(async () => {
  sshd = await startSshd({ extraConfig: ['ForceCommand sleep 30'] });
  session = await createSshTransport().connect(sshd.target());
}, 60_000);

afterAll(async () => {
  await session?.close();
  await sshd?.stop();
});

describe('maintenance command timeout', () => {
  it('the rollback snapshot check on a host that never finishes fails with a timeout instead of waiting for ever', async () => {
    const started = Date.now();
    const result = await rollbackHost({ session, deployDir: sshd.dir, jobIds: [7] });
    expect(result).toMatchObject({ ok: false, restoredJobIds: [] });
    expect(result.error).toMatch(/timed out after/);
    expect(Date.now() - started).toBeLessThan(8000);
  }, 15_000);

});
