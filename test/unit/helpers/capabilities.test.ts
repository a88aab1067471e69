// A test that cannot run here must fail the run unless the operator allows skips with FERRY_TEST_ALLOW_SKIP=1.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { missingCapability, mountTmpfs, type SkipContext } from '../../helpers/capabilities.ts';

class Skipped extends Error {}
const fakeContext = () => ({ skip: vi.fn((note?: string): never => { throw new Skipped(note); }) }) satisfies SkipContext;

describe('missing capabilities', () => {
  it('fail with a message saying how to skip them when FERRY_TEST_ALLOW_SKIP is not set', () => {
    const ctx = fakeContext();
    expect(() => missingCapability(ctx, 'cannot mount a tmpfs here', undefined, {})).toThrow(/^cannot mount a tmpfs here; set FERRY_TEST_ALLOW_SKIP=1 to skip$/);
    expect(() => missingCapability(ctx, 'cannot mount a tmpfs here', undefined, { FERRY_TEST_ALLOW_SKIP: '0' })).toThrow(/set FERRY_TEST_ALLOW_SKIP=1 to skip/);
    expect(ctx.skip).not.toHaveBeenCalled();
  });

  it('skip the test when FERRY_TEST_ALLOW_SKIP=1', () => {
    const ctx = fakeContext();
    expect(() => missingCapability(ctx, 'cannot mount a tmpfs here', 'mount: permission denied', { FERRY_TEST_ALLOW_SKIP: '1' })).toThrow(Skipped);
    expect(ctx.skip).toHaveBeenCalledWith('cannot mount a tmpfs here');
  });

  it('a tmpfs that cannot be mounted fails the test and names what mount said', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-nomount-'));
    const fakeMount = path.join(dir, 'mount');
    fs.writeFileSync(fakeMount, '#!/bin/sh\necho "mount: only root can do that" >&2\nexit 1\n', { mode: 0o755 });
    const ctx = fakeContext();
    try {
      vi.stubEnv('FERRY_TEST_ALLOW_SKIP', '');
      expect(() => mountTmpfs(ctx, dir, '1m', fakeMount)).toThrow('cannot mount a tmpfs here; set FERRY_TEST_ALLOW_SKIP=1 to skip (mount: only root can do that)');
      expect(ctx.skip).not.toHaveBeenCalled();
    } finally {
      vi.unstubAllEnvs();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('.ci/run does not allow skips', () => {
    expect(fs.readFileSync(path.resolve(import.meta.dirname, '../../../.ci/run'), 'utf8')).not.toMatch(/FERRY_TEST_ALLOW_SKIP/);
  });
});
