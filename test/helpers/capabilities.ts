// Tests that need something the machine may not allow (mounting a tmpfs as root) fail when it is missing, so a CI
// without it cannot stay green while the feature goes untested; FERRY_TEST_ALLOW_SKIP=1 turns the failure into a skip.
import { execFileSync } from 'node:child_process';

/** The part of vitest's test context these helpers use (a plain object in the helpers' own unit test). */
export interface SkipContext {
  skip(note?: string): never;
}

/** Skips the test if FERRY_TEST_ALLOW_SKIP=1, otherwise fails it with `<what>; set FERRY_TEST_ALLOW_SKIP=1 to skip`. */
export function missingCapability(ctx: SkipContext, what: string, detail?: string, env: NodeJS.ProcessEnv = process.env): never {
  const message = `${what}; set FERRY_TEST_ALLOW_SKIP=1 to skip`;
  if (env.FERRY_TEST_ALLOW_SKIP === '1') ctx.skip(what);
  throw new Error(detail ? `${message} (${detail})` : message);
}

/**
 * Mounts a tmpfs of `size` (e.g. '2m') on `dir` and returns the function that unmounts it. A plain `mount` is used,
 * not `unshare --mount`: the sshd that writes into `dir` runs outside any namespace this process could enter.
 */
export function mountTmpfs(ctx: SkipContext, dir: string, size: string, mountCommand = 'mount'): () => void {
  try {
    execFileSync(mountCommand, ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    missingCapability(ctx, 'cannot mount a tmpfs here', stderr || (err as Error).message);
  }
  return () => execFileSync('umount', [dir]);
}
