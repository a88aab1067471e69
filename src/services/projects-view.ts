// Read models of projects for the API: never include secret values, only whether they are set.
import { FerryError } from '../lib/errors.ts';
import { tk } from '../lib/messages.ts';
import type { Prisma } from '../lib/db.ts';
import type { Ctx, Services } from './context.ts';
import { assertCanSee } from './permissions.ts';
import { visibleProjectIds } from './dashboard.ts';

const projectInclude = {
  groups: { include: { hosts: { select: { name: true } } }, orderBy: { name: 'asc' } },
  processes: { include: { groups: { select: { name: true } } }, orderBy: { name: 'asc' } },
  hooks: { orderBy: [{ stage: 'asc' }, { position: 'asc' }] },
} satisfies Prisma.ProjectInclude;

type ProjectRow = Awaited<ReturnType<typeof loadProjects>>[number];
const loadProjects = (svc: Pick<Services, 'db'>, where: Prisma.ProjectWhereInput) =>
  svc.db.project.findMany({ where, include: projectInclude, orderBy: { name: 'asc' } });

function toView(p: ProjectRow) {
  return {
    name: p.name, description: p.description, svnUrl: p.svnUrl, svnUsername: p.svnUsername,
    svnPasswordSet: Boolean(p.svnPasswordEnc), deployDir: p.deployDir, keepSnapshots: p.keepSnapshots, concurrency: p.concurrency,
    groups: p.groups.map((g) => ({ name: g.name, hosts: g.hosts.map((h) => h.name) })),
    processes: p.processes.map((pr) => ({ name: pr.name, start: pr.startCmd, stop: pr.stopCmd, status: pr.statusCmd, groups: pr.groups.map((g) => g.name) })),
    hooks: p.hooks.map((h) => ({ name: h.name, stage: h.stage, runOn: h.runOn, script: h.script, timeoutSec: h.timeoutSec })),
  };
}

export async function listProjectViews(svc: Pick<Services, 'db'>, ctx: Ctx) {
  const ids = await visibleProjectIds(svc, ctx);
  return (await loadProjects(svc, ids ? { id: { in: ids } } : {})).map(toView);
}

export async function getProjectView(svc: Pick<Services, 'db'>, ctx: Ctx, name: string) {
  const [project] = await loadProjects(svc, { name });
  if (!project) throw new FerryError('not-found', tk('Project "{{name}}" does not exist.'), { params: { name } });
  await assertCanSee(svc, ctx, project, 'project.view');
  return toView(project);
}
