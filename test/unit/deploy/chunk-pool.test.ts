import { describe, expect, it } from 'vitest';
import { ChunkPool } from '../../../src/deploy/release/chunk-pool.ts';

describe('ChunkPool', () => {
  it('reads into a buffer again once the chunk lent from it is given back, never before', () => {
    const pool = new ChunkPool(1024 * 1024);
    const a = pool.take(64 * 1024);
    const lent = pool.lend(a, a);
    const b = pool.take(64 * 1024);
    expect(b).not.toBe(a);
    pool.giveBack(lent);
    expect(pool.take(64 * 1024)).toBe(a);
  });

  it('takes back the buffer of a view (the short last chunk of a file)', () => {
    const pool = new ChunkPool(1024 * 1024);
    const buffer = pool.take(64 * 1024);
    const view = pool.lend(buffer.subarray(0, 100), buffer);
    pool.giveBack(view);
    expect(pool.take(64 * 1024)).toBe(buffer);
  });

  it('ignores chunks it did not lend and chunks given back twice', () => {
    const pool = new ChunkPool(1024 * 1024);
    pool.giveBack(Buffer.alloc(64 * 1024));
    expect(pool.idleBytes).toBe(0);
    const buffer = pool.take(64 * 1024);
    pool.lend(buffer, buffer);
    pool.giveBack(buffer);
    pool.giveBack(buffer);
    expect(pool.idleBytes).toBe(64 * 1024);
    expect(pool.take(64 * 1024)).toBe(buffer);
    expect(pool.take(64 * 1024)).not.toBe(buffer);
  });

  it('keeps at most its limit of idle buffers', () => {
    const pool = new ChunkPool(128 * 1024);
    const buffers = [0, 1, 2].map(() => pool.take(64 * 1024));
    for (const b of buffers) pool.giveBack(pool.lend(b, b));
    expect(pool.idleBytes).toBe(128 * 1024);
  });
});
