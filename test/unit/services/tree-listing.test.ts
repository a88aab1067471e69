import { describe, expect, it } from 'vitest';
import type { SvnDirEntry } from '../../../src/deploy/svn/index.ts';
import { compareEntries, ListingCache, pageOf } from '../../../src/services/tree-listing.ts';

const entry = (name: string, kind: 'file' | 'dir' = 'file'): SvnDirEntry => ({ name, path: `d/${name}`, kind, size: kind === 'file' ? 1 : null, rev: 1, author: null, date: null });
const names = (entries: SvnDirEntry[]) => entries.map((e) => e.name);

describe('tree listing', () => {
  it('sorts folders first, then names naturally and ignoring case', () => {
    const sorted = ['map_50', 'map_4999', 'Map_6', 'map_5', 'zeta', 'b10', 'b9'].map((n) => entry(n)).concat(entry('dir_2', 'dir'), entry('Dir_10', 'dir')).sort(compareEntries);
    expect(names(sorted)).toEqual(['dir_2', 'Dir_10', 'b9', 'b10', 'map_5', 'Map_6', 'map_50', 'map_4999', 'zeta']);
    // Names equal but for case still come out in one fixed order.
    expect(names([entry('a'), entry('A')].sort(compareEntries))).toEqual(names([entry('A'), entry('a')].sort(compareEntries)));
  });

  it('pages and filters, clamping odd values', () => {
    const all = Array.from({ length: 30 }, (_, i) => entry(`map_${i}`));
    expect(pageOf(all, { offset: '10', limit: '5' })).toMatchObject({ total: 30, size: 30, offset: 10, limit: 5, filter: null });
    expect(names(pageOf(all, { offset: '10', limit: '5' }).entries)).toEqual(['map_10', 'map_11', 'map_12', 'map_13', 'map_14']);
    const found = pageOf(all, { filter: ' MAP_2 ', limit: '100' });
    expect(found).toMatchObject({ total: 11, size: 30, filter: 'MAP_2' });
    expect(names(found.entries).slice(0, 3)).toEqual(['map_2', 'map_20', 'map_21']);
    expect(pageOf(all, { offset: '-3', limit: '1e9' })).toMatchObject({ offset: 0, limit: 2000 });
  });

  it('lists once while cached, expires, and stays within its entry bound', async () => {
    const cache = new ListingCache({ cacheMs: 1000, cacheEntries: 5 });
    let calls = 0;
    const list = (n: number) => async () => {
      calls++;
      return Array.from({ length: n }, (_, i) => entry(`f${i}`));
    };
    await cache.get('a', list(3), 0);
    await cache.get('a', list(3), 500);
    expect(calls).toBe(1);
    await cache.get('b', list(3), 600); // 6 entries held: the oldest listing goes
    expect(cache.size).toBe(1);
    await cache.get('big', list(6), 700); // bigger than the bound: answered, not kept
    expect(calls).toBe(3);
    await cache.get('big', list(6), 700);
    expect(calls).toBe(4);
    await cache.get('b', list(3), Date.now() + 2000); // expired
    expect(calls).toBe(5);
  });
});
