// Operation-log queries: filtering, search, sort and paging all run in SQL (server-side DataTables, CSV, API).
// Search uses the FTS5 trigram index (src/lib/search-index.ts) for terms of 3+ characters, LIKE for shorter ones.
import { Prisma } from '../generated/prisma/client.ts';
import type { Services } from './context.ts';
import { OPLOG_SEARCH_COLUMNS } from '../lib/search-index.ts';
import { PAGING } from '../config.ts';
import { clampPage } from './paging.ts';

export interface OpLogFilter {
  user?: string;
  project?: string;
  action?: string;
  result?: string;
  /** ISO date or datetime, inclusive. */
  from?: string;
  /** ISO date (whole day included) or datetime, inclusive. */
  to?: string;
  search?: string;
  jobId?: number;
}

export const OPLOG_COLUMNS = ['at', 'userName', 'ip', 'action', 'project', 'target', 'result', 'detail'] as const;
export type OpLogColumn = (typeof OPLOG_COLUMNS)[number];
type OpLogRow = Prisma.OpLogGetPayload<object>;

/** Indexes (named by Prisma from the schema's @@index) that deliver each sort order without a temporary sort. */
const SORT_INDEXES: Partial<Record<OpLogColumn, string>> = {
  at: 'OpLog_at_idx', userName: 'OpLog_userName_at_idx', project: 'OpLog_project_at_idx', action: 'OpLog_action_at_idx', result: 'OpLog_result_at_idx',
};

const isDateOnly = (v: string | undefined) => /^\d{4}-\d{2}-\d{2}$/.test(v ?? '');

function parseDate(value: string | undefined, endOfDay: boolean): Date | undefined {
  if (!value) return undefined;
  const d = new Date(isDateOnly(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) return undefined;
  if (isDateOnly(value) && endOfDay) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

/** An action filter matches the action and its sub-actions ("publish" matches "publish.start"), using the index. */
const actionRange = (prefix: string) => ({ gte: prefix, lt: `${prefix}\u{10FFFF}` });

export function opLogWhere(f: OpLogFilter): Prisma.OpLogWhereInput {
  const and: Prisma.OpLogWhereInput[] = [];
  if (f.user) and.push({ userName: f.user });
  if (f.project) and.push({ project: f.project });
  if (f.action) and.push({ action: actionRange(f.action) });
  if (f.result) and.push({ result: f.result });
  if (f.jobId) and.push({ jobId: f.jobId });
  const from = parseDate(f.from, false);
  const to = parseDate(f.to, true);
  if (from) and.push({ at: { gte: from } });
  if (to) and.push(isDateOnly(f.to) ? { at: { lt: to } } : { at: { lte: to } });
  const q = f.search?.trim();
  if (q) and.push({ OR: OPLOG_SEARCH_COLUMNS.map((c) => ({ [c]: { contains: q } })) });
  return and.length ? { AND: and } : {};
}

const hasFilter = (f: OpLogFilter) => Boolean(f.user || f.project || f.action || f.result || f.jobId || f.from || f.to || f.search?.trim());

// Prisma stores DateTime as RFC 3339 text with an explicit offset; raw comparisons must use the same form.
const sqlTime = (d: Date) => d.toISOString().replace('Z', '+00:00');

/** The same filter as opLogWhere, as SQL, with the search done through the FTS index. */
function sqlWhere(f: OpLogFilter, term: string): Prisma.Sql {
  const parts: Prisma.Sql[] = [Prisma.sql`id IN (SELECT rowid FROM OpLog_search WHERE OpLog_search MATCH ${`"${term.replace(/"/g, '""')}"`})`];
  if (f.user) parts.push(Prisma.sql`userName = ${f.user}`);
  if (f.project) parts.push(Prisma.sql`project = ${f.project}`);
  if (f.action) parts.push(Prisma.sql`action >= ${f.action} AND action < ${`${f.action}\u{10FFFF}`}`);
  if (f.result) parts.push(Prisma.sql`result = ${f.result}`);
  if (f.jobId) parts.push(Prisma.sql`jobId = ${f.jobId}`);
  const from = parseDate(f.from, false);
  const to = parseDate(f.to, true);
  if (from) parts.push(Prisma.sql`at >= ${sqlTime(from)}`);
  if (to) parts.push(isDateOnly(f.to) ? Prisma.sql`at < ${sqlTime(to)}` : Prisma.sql`at <= ${sqlTime(to)}`);
  return Prisma.join(parts, ' AND ');
}

export async function queryOpLog(
  svc: Pick<Services, 'db'>, filter: OpLogFilter,
  page: { offset: number; limit: number; orderBy?: OpLogColumn; dir?: 'asc' | 'desc' },
): Promise<{ total: number; filtered: number; rows: OpLogRow[] }> {
  const col = page.orderBy ?? 'at';
  const dir = page.dir ?? 'desc';
  const { offset, limit: take } = clampPage(page.offset, page.limit, PAGING.maxApiLength);
  const totalQuery = svc.db.$queryRaw<{ n: bigint | number }[]>`SELECT COUNT(*) AS n FROM OpLog`.then((r) => Number(r[0].n));
  const term = filter.search?.trim() ?? '';
  if (term.length >= 3) {
    const where = sqlWhere(filter, term);
    // Column names come from the OPLOG_COLUMNS allow-list, never from the request.
    const order = Prisma.raw(`"${col}" ${dir === 'asc' ? 'ASC' : 'DESC'}${col === 'at' ? '' : `, "at" ${dir.toUpperCase()}`}, "id" ${dir.toUpperCase()}`);
    // Walk the sort order's index and keep the matching rows, instead of sorting every match (a common term
    // matches tens of thousands of rows); the IN list is built once.
    const index = SORT_INDEXES[col];
    const from = Prisma.raw(index ? `OpLog INDEXED BY ${index}` : 'OpLog');
    const [total, filtered, rows] = await Promise.all([
      totalQuery,
      svc.db.$queryRaw<{ n: bigint | number }[]>`SELECT COUNT(*) AS n FROM OpLog WHERE ${where}`.then((r) => Number(r[0].n)),
      svc.db.$queryRaw<OpLogRow[]>`SELECT * FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ${take} OFFSET ${offset}`,
    ]);
    return { total, filtered, rows: rows.map((r) => ({ ...r, at: new Date(r.at) })) };
  }
  const where = opLogWhere(filter);
  // Ties are broken by (at, id) so sorting by a column with an (column, at) index needs no temporary sort.
  const orderBy: Prisma.OpLogOrderByWithRelationInput[] = col === 'at' ? [{ at: dir }, { id: dir }] : [{ [col]: dir }, { at: dir }, { id: dir }];
  const [total, rows] = await Promise.all([
    totalQuery,
    svc.db.opLog.findMany({ where, orderBy, skip: offset, take }),
  ]);
  const filtered = hasFilter(filter) ? await svc.db.opLog.count({ where }) : total;
  return { total, filtered, rows };
}

/** Streams every matching row in id order, in batches, so a large export never sits in memory. */
export async function* iterateOpLog(svc: Pick<Services, 'db'>, filter: OpLogFilter, batch = 2000) {
  const where = opLogWhere(filter);
  let cursor: number | undefined;
  for (;;) {
    const rows = await svc.db.opLog.findMany({
      where, orderBy: { id: 'desc' }, take: batch, ...(cursor ? { skip: 1, cursor: { id: cursor } } : {}),
    });
    if (rows.length === 0) return;
    yield* rows;
    cursor = rows[rows.length - 1].id;
  }
}

export async function opLogFacets(svc: Pick<Services, 'db'>) {
  // Suggested user names are the accounts, not every name ever typed into the login form (anyone can add those);
  // the filter is free text, so names of deleted accounts can still be found.
  // Raw DISTINCT uses the indexes; Prisma's `distinct` would de-duplicate in memory.
  const [users, projects, actions] = await Promise.all([
    svc.db.user.findMany({ select: { name: true }, orderBy: { name: 'asc' } }).then((rows) => rows.map((u) => ({ v: u.name }))),
    svc.db.project.findMany({ select: { name: true }, orderBy: { name: 'asc' } }),
    svc.db.$queryRaw<{ v: string }[]>`SELECT DISTINCT action AS v FROM OpLog ORDER BY v`,
  ]);
  return { users: users.map((u) => u.v), projects: projects.map((p) => p.name), actions: actions.map((a) => a.v) };
}
