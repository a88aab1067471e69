// What the dashboard shows: projects the user may see, each with its last publish and running job, and the requests
// waiting for this user's approval.
import type { Ctx, Services } from './context.ts';
import { requestsAwaiting } from './jobs/approval.ts';
import { latestDrift } from './jobs/drift.ts';
import { ACTIVE_JOB_STATUSES, CLOSED_REQUEST_STATUSES, isActiveStatus } from './jobs/status.ts';

export async function visibleProjectIds(svc: Pick<Services, 'db'>, ctx: Ctx): Promise<number[] | undefined> {
  return ctx.actor.role === 'member' ? [...ctx.actor.grants.keys()] : undefined;
}

export async function dashboard(svc: Pick<Services, 'db'>, ctx: Ctx) {
  const ids = await visibleProjectIds(svc, ctx);
  const projects = await svc.db.project.findMany({
    where: ids ? { id: { in: ids } } : {},
    orderBy: { name: 'asc' },
    select: {
      id: true, name: true, description: true, svnUrl: true,
      jobs: {
        where: { OR: [{ kind: 'publish', status: { notIn: ['awaiting_approval', ...CLOSED_REQUEST_STATUSES] } }, { status: { in: [...ACTIVE_JOB_STATUSES] } }] },
        orderBy: { id: 'desc' }, take: 5,
        select: { id: true, kind: true, status: true, revision: true, userName: true, createdAt: true, finishedAt: true },
      },
    },
  });
  const drift = await latestDrift(svc, projects.map((p) => p.id));
  const rows = projects.map((p) => ({
    ...p,
    lastPublish: p.jobs.find((j) => j.kind === 'publish' && !isActiveStatus(j.status)) ?? null,
    running: p.jobs.find((j) => isActiveStatus(j.status)) ?? null,
    /** The newest drift check: hosts where files differ from what Ferry put there. */
    drift: drift.get(p.id) ?? null,
    grant: ctx.actor.role === 'admin'
      ? { publish: true, rollback: true, process: true }
      : ctx.actor.grants.get(p.id) ?? { publish: false, rollback: false, process: false },
  }));
  return { projects: rows, awaiting: await requestsAwaiting(svc, ctx) };
}
