// Operation-log queries: filtering, search, sort and paging all run in SQL (server-side DataTables, CSV, API).
import type { Prisma } from '../lib/db.ts';
import type { Services } from './context.ts';

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

function parseDate(value: string | undefined, endOfDay: boolean): Date | undefined {
  if (!value) return undefined;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const d = new Date(dateOnly ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) return undefined;
  if (dateOnly && endOfDay) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

export function opLogWhere(f: OpLogFilter): Prisma.OpLogWhereInput {
  const and: Prisma.OpLogWhereInput[] = [];
  if (f.user) and.push({ userName: f.user });
  if (f.project) and.push({ project: f.project });
  if (f.action) and.push({ action: { startsWith: f.action } });
  if (f.result) and.push({ result: f.result });
  if (f.jobId) and.push({ jobId: f.jobId });
  const from = parseDate(f.from, false);
  const to = parseDate(f.to, true);
  if (from) and.push({ at: { gte: from } });
  if (to) and.push(/^\d{4}-\d{2}-\d{2}$/.test(f.to ?? '') ? { at: { lt: to } } : { at: { lte: to } });
  const q = f.search?.trim();
  if (q) {
    and.push({ OR: (['userName', 'action', 'project', 'target', 'detail', 'ip'] as const).map((c) => ({ [c]: { contains: q } })) });
  }
  return and.length ? { AND: and } : {};
}

export async function queryOpLog(
  svc: Pick<Services, 'db'>, filter: OpLogFilter,
  page: { offset: number; limit: number; orderBy?: OpLogColumn; dir?: 'asc' | 'desc' },
) {
  const where = opLogWhere(filter);
  const orderBy: Prisma.OpLogOrderByWithRelationInput[] = [{ [page.orderBy ?? 'at']: page.dir ?? 'desc' }, { id: page.dir ?? 'desc' }];
  const [total, filtered, rows] = await Promise.all([
    svc.db.opLog.count(),
    svc.db.opLog.count({ where }),
    svc.db.opLog.findMany({ where, orderBy, skip: page.offset, take: Math.min(page.limit, 1000) }),
  ]);
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
  // Raw DISTINCT uses the indexes; Prisma's `distinct` would de-duplicate in memory.
  const [users, projects, actions] = await Promise.all([
    svc.db.$queryRaw<{ v: string }[]>`SELECT DISTINCT userName AS v FROM OpLog WHERE userName <> '' ORDER BY v`,
    svc.db.project.findMany({ select: { name: true }, orderBy: { name: 'asc' } }),
    svc.db.$queryRaw<{ v: string }[]>`SELECT DISTINCT action AS v FROM OpLog ORDER BY v`,
  ]);
  return { users: users.map((u) => u.v), projects: projects.map((p) => p.name), actions: actions.map((a) => a.v) };
}
