// Operation-log queries against a real SQLite file: the FTS5 search path and the plain path must agree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../kit/db.ts';
import { queryOpLog, type OpLogFilter } from '../../src/services/oplog-query.ts';

let t: TestDb;
const page = { offset: 0, limit: 100 };
const targets = async (filter: OpLogFilter, p: Partial<typeof page> & { orderBy?: 'at' | 'userName'; dir?: 'asc' | 'desc' } = {}) =>
  (await queryOpLog(t.svc, filter, { ...page, ...p })).rows.map((r) => r.target);

beforeAll(async () => {
  t = await createTestDb();
  const base = Date.parse('2026-03-01T00:00:00Z');
  await t.db.opLog.createMany({
    data: [
      { at: new Date(base), userName: 'alice', action: 'publish.start', project: 'game', target: 'Zone17-B', result: 'ok', detail: 'r12 to zone17-b' },
      { at: new Date(base + 1000), userName: 'bob', action: 'publish.finish', project: 'game', target: 'zone18', result: 'failed', detail: 'host key changed' },
      { at: new Date(base + 86_400_000), userName: 'alice', action: 'login', result: 'ok', target: 'quote"d', detail: '' },
    ],
  });
});
afterAll(async () => t?.cleanup());

describe('operation-log search', () => {
  it('finds substrings in any column, case-insensitively, through the index', async () => {
    expect(await targets({ search: 'ne17-b' })).toEqual(['Zone17-B']);
    expect(await targets({ search: 'KEY CHANGED' })).toEqual(['zone18']);
    expect(await targets({ search: 'nothing-like-this' })).toEqual([]);
    expect(await targets({ search: 'quote"d' })).toEqual(['quote"d']);
  });

  it('combines search with filters, date ranges and sorting, and counts in SQL', async () => {
    expect(await targets({ search: 'zone', user: 'bob' })).toEqual(['zone18']);
    expect(await targets({ search: 'zone', action: 'publish' }, { orderBy: 'userName', dir: 'asc' })).toEqual(['Zone17-B', 'zone18']);
    expect(await targets({ search: 'alice', from: '2026-03-02', to: '2026-03-02' })).toEqual(['quote"d']);
    const result = await queryOpLog(t.svc, { search: 'zone' }, { offset: 1, limit: 1 });
    expect(result).toMatchObject({ total: 3, filtered: 2 });
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0].at).toBeInstanceOf(Date);
  });

  it('uses LIKE for terms shorter than the index can serve, and sees rows added later', async () => {
    expect(await targets({ search: '18' })).toEqual(['zone18']);
    await t.db.opLog.create({ data: { userName: 'carol', action: 'rollback.start', result: 'ok', target: 'zone19', detail: 'late row' } });
    expect(await targets({ search: 'late row' })).toEqual(['zone19']);
  });
});
