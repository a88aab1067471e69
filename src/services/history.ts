// Read models of the workflow pages: the job history (filtered, searched, sorted and paged in SQL), the last
// published revision per host, and what the publish and processes pages show. Permissions are checked here.
import type { Prisma } from '../lib/db.ts';
import { FerryError } from '../lib/errors.ts';
import { fill, tk } from '../lib/messages.ts';
import { clampPage, safeWholeNumber } from './paging.ts';
import type { Ctx, Services } from './context.ts';
import { visibleProjectIds } from './dashboard.ts';
import { assertCan, assertCanSee, grantOf } from './permissions.ts';

export interface JobFilter {
  project?: string;
  kind?: string;
  status?: string;
  user?: string;
  search?: string;
}

/** History table columns, in the order the page shows them (DataTables sends the index). */
export const JOB_COLUMNS = ['id', 'createdAt', 'userName', 'kind', 'project', 'revision', 'files', 'hosts', 'status', 'duration'] as const;
export type JobColumn = (typeof JOB_COLUMNS)[number];

type Dir = 'asc' | 'desc';
// Files (a JSON list) and duration are not columns SQL can sort on through Prisma; they fall back to the id.
const ORDER: Partial<Record<JobColumn, (dir: Dir) => Prisma.JobOrderByWithRelationInput>> = {
  id: (dir) => ({ id: dir }),
  createdAt: (dir) => ({ createdAt: dir }),
  userName: (dir) => ({ userName: dir }),
  kind: (dir) => ({ kind: dir }),
  project: (dir) => ({ project: { name: dir } }),
  revision: (dir) => ({ revision: dir }),
  hosts: (dir) => ({ hosts: { _count: dir } }),
  status: (dir) => ({ status: dir }),
};

export const isSortable = (column: JobColumn) => column in ORDER;

async function visibilityWhere(svc: Pick<Services, 'db'>, ctx: Ctx): Promise<Prisma.JobWhereInput> {
  const ids = await visibleProjectIds(svc, ctx);
  return ids ? { projectId: { in: ids } } : {};
}

export function jobWhere(f: JobFilter): Prisma.JobWhereInput[] {
  const and: Prisma.JobWhereInput[] = [];
  if (f.project) and.push({ project: { name: f.project } });
  if (f.kind) and.push({ kind: f.kind });
  if (f.status) and.push({ status: f.status });
  if (f.user) and.push({ userName: f.user });
  const q = f.search?.trim();
  if (q) {
    const or: Prisma.JobWhereInput[] = [
      { userName: { contains: q } }, { kind: { contains: q } }, { status: { contains: q } },
      { note: { contains: q } }, { project: { name: { contains: q } } },
    ];
    // "#12" finds job 12, "r345" revision 345, a bare number either.
    // Only numbers SQLite can hold exactly; "#99999999999999999999" simply finds nothing by id.
    const id = safeWholeNumber(/^#(\d+)$/.exec(q)?.[1]);
    const rev = safeWholeNumber(/^r(\d+)$/i.exec(q)?.[1]);
    if (id !== undefined) or.push({ id });
    if (rev !== undefined) or.push({ revision: rev });
    if (/^\d+$/.test(q) && Number.isSafeInteger(Number(q))) or.push({ id: Number(q) }, { revision: Number(q) });
    and.push({ OR: or });
  }
  return and;
}

export interface JobRow {
  id: number;
  createdAt: string;
  userName: string;
  kind: string;
  /** For process jobs the action, for rollbacks the job rolled back. */
  detail: string;
  project: string;
  revision: number | null;
  files: number;
  hosts: number;
  status: string;
  durationMs: number | null;
}

function describeParams(kind: string, params: string): string {
  try {
    const p = JSON.parse(params) as { action?: string; processes?: string[]; targetJobId?: number };
    if (kind === 'process' && p.action) return `${p.action}${p.processes?.length ? ` ${p.processes.join(', ')}` : ''}`;
    if (kind === 'rollback' && p.targetJobId) return fill(tk('of #{{id}}'), { id: p.targetJobId });
  } catch {
    // Old or hand-edited rows: show the kind alone.
  }
  return '';
}

function countFiles(files: string): number {
  try {
    const list = JSON.parse(files) as unknown;
    return Array.isArray(list) ? list.length : 0;
  } catch {
    return 0;
  }
}

/** One page of the job history the actor may see; members only see their granted projects. */
export async function queryJobs(
  svc: Pick<Services, 'db'>, ctx: Ctx, filter: JobFilter,
  page: { offset: number; limit: number; orderBy?: JobColumn; dir?: Dir },
): Promise<{ total: number; filtered: number; rows: JobRow[] }> {
  const visible = await visibilityWhere(svc, ctx);
  const where: Prisma.JobWhereInput = { AND: [visible, ...jobWhere(filter)] };
  const dir = page.dir ?? 'desc';
  const { offset, limit } = clampPage(page.offset, page.limit);
  const primary = ORDER[page.orderBy ?? 'id'] ?? ORDER.id!;
  const [total, filtered, jobs] = await Promise.all([
    svc.db.job.count({ where: visible }),
    svc.db.job.count({ where }),
    svc.db.job.findMany({
      where, orderBy: [primary(dir), { id: dir }], skip: offset, take: limit,
      select: {
        id: true, createdAt: true, userName: true, kind: true, status: true, revision: true, files: true, params: true,
        startedAt: true, finishedAt: true, project: { select: { name: true } }, _count: { select: { hosts: true } },
      },
    }),
  ]);
  const rows = jobs.map((j) => ({
    id: j.id, createdAt: j.createdAt.toISOString(), userName: j.userName, kind: j.kind, detail: describeParams(j.kind, j.params),
    project: j.project.name, revision: j.revision, files: countFiles(j.files), hosts: j._count.hosts, status: j.status,
    durationMs: j.startedAt && j.finishedAt ? j.finishedAt.getTime() - j.startedAt.getTime() : null,
  }));
  return { total, filtered, rows };
}

/** Project names for the history filter: only the ones the actor may see. */
export async function historyProjects(svc: Pick<Services, 'db'>, ctx: Ctx): Promise<string[]> {
  const ids = await visibleProjectIds(svc, ctx);
  const projects = await svc.db.project.findMany({ where: ids ? { id: { in: ids } } : {}, select: { name: true }, orderBy: { name: 'asc' } });
  return projects.map((p) => p.name);
}

export interface LastPublish {
  jobId: number;
  revision: number | null;
  at: Date;
}

/**
 * Per host: the newest publish of this project that succeeded there and was not rolled back since.
 * Grouped in SQL, so a project with many hosts and a long history reads one row per host.
 */
export async function lastPublishedRevisions(svc: Pick<Services, 'db'>, projectId: number): Promise<Map<number, LastPublish>> {
  const newest = await svc.db.jobHost.groupBy({
    by: ['hostId'],
    where: { hostId: { not: null }, status: 'succeeded', rolledBackByJobId: null, job: { projectId, kind: 'publish' } },
    _max: { jobId: true },
  });
  const jobIds = newest.map((g) => g._max.jobId).filter((id): id is number => id !== null);
  const jobs = await svc.db.job.findMany({ where: { id: { in: jobIds } }, select: { id: true, revision: true, finishedAt: true, createdAt: true } });
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const result = new Map<number, LastPublish>();
  for (const g of newest) {
    const job = g._max.jobId !== null ? byId.get(g._max.jobId) : undefined;
    if (g.hostId !== null && job) result.set(g.hostId, { jobId: job.id, revision: job.revision, at: job.finishedAt ?? job.createdAt });
  }
  return result;
}

async function loadProject<T extends Prisma.ProjectInclude>(svc: Pick<Services, 'db'>, name: string, include: T) {
  const project = await svc.db.project.findUnique({ where: { name }, include });
  if (!project) throw new FerryError('not-found', tk('Project "{{name}}" does not exist.'), { params: { name } });
  return project;
}

/** The publish page: the project's groups and hosts with what each host runs now. Needs `publish`. */
export async function publishPageData(svc: Pick<Services, 'db'>, ctx: Ctx, name: string) {
  const project = await loadProject(svc, name, {
    groups: { orderBy: { name: 'asc' }, include: { hosts: { select: { id: true, name: true, address: true }, orderBy: { name: 'asc' } } } },
    processes: { orderBy: { name: 'asc' }, select: { name: true } },
  } as const);
  await assertCanSee(svc, ctx, project, 'access');
  await assertCan(svc, ctx, 'publish', project, 'access');
  const last = await lastPublishedRevisions(svc, project.id);
  const hosts = new Map<number, { name: string; address: string; groups: string[]; last: LastPublish | null }>();
  for (const g of project.groups) {
    for (const h of g.hosts) {
      const entry = hosts.get(h.id) ?? { name: h.name, address: h.address, groups: [], last: last.get(h.id) ?? null };
      entry.groups.push(g.name);
      hosts.set(h.id, entry);
    }
  }
  return {
    project: { name: project.name, description: project.description, svnUrl: project.svnUrl, requireApproval: project.requireApproval, approvalHours: project.approvalHours },
    groups: project.groups.map((g) => ({ name: g.name, hosts: g.hosts.map((h) => h.name) })),
    /** For the "restart between waves" choice. */
    processes: project.processes.map((p) => p.name),
    hosts: [...hosts.values()].sort((a, b) => a.name.localeCompare(b.name)).map((h) => ({
      name: h.name, address: h.address, groups: h.groups,
      lastJobId: h.last?.jobId ?? null, lastRevision: h.last?.revision ?? null, lastAt: h.last?.at.toISOString() ?? null,
    })),
    grant: grantOf(ctx, project.id),
  };
}

/** The processes page: each process with its groups and their hosts. Needs `process`. */
export async function processesPageData(svc: Pick<Services, 'db'>, ctx: Ctx, name: string) {
  const project = await loadProject(svc, name, {
    processes: {
      orderBy: { name: 'asc' },
      include: { groups: { orderBy: { name: 'asc' }, include: { hosts: { select: { name: true, address: true }, orderBy: { name: 'asc' } } } } },
    },
  } as const);
  await assertCanSee(svc, ctx, project, 'access');
  await assertCan(svc, ctx, 'process', project, 'access');
  return {
    project: { name: project.name, description: project.description },
    processes: project.processes.map((p) => ({
      name: p.name, startCmd: p.startCmd, stopCmd: p.stopCmd, statusCmd: p.statusCmd,
      groups: p.groups.map((g) => ({ name: g.name, hosts: g.hosts })),
    })),
    grant: grantOf(ctx, project.id),
  };
}
