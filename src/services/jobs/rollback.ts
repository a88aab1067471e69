// Rollback of a publish: on every host it touched, restore the snapshot taken before it, undoing it and every later
// publish still in place there. Planned and run under the project's slot, so no publish can land in between. On a
// project whose rollbacks need approval it is first stored as a request (approval.ts), and planned again when approved.
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Ctx, Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { assertCan } from '../permissions.ts';
import { abandon, launch, type JobCore } from './launch.ts';
import { forgetHostFiles } from './host-files.ts';
import { concurrencyOf, hostPlans } from './plans.ts';
import { requestApproval } from './approval.ts';
import type { ProjectSlot } from './lock.ts';
import type { JobStatus } from './status.ts';
import { assertJobVisible, createJob, type ProjectFull } from './store.ts';
import { jobNotFound } from './request.ts';

/** What rolling back `jobId` would undo, per host: that publish and every later one still in place, newest first. */
export async function rollbackPlan(svc: Services, ctx: Ctx, jobId: number) {
  const target = await rollbackTarget(svc, ctx, jobId);
  return { target, ...(await planRollback(svc, target)) };
}

async function rollbackTarget(svc: Services, ctx: Ctx, jobId: number) {
  const target = await svc.db.job.findUnique({ where: { id: jobId }, include: { project: true, hosts: true } });
  if (!target) throw jobNotFound(jobId);
  await assertJobVisible(svc, ctx, target, 'rollback');
  if (target.kind !== 'publish') throw new FerryError('invalid', tk('Job #{{id}} is a {{kind}} job; only publish jobs can be rolled back.'), { params: { id: jobId, kind: target.kind }, keyParams: ['kind'] });
  return target;
}

async function planRollback(svc: Services, target: { id: number; projectId: number; hosts: { hostId: number | null; snapshotTaken: boolean; rolledBackByJobId: number | null }[] }) {
  const touched = target.hosts.filter((h) => h.snapshotTaken && h.hostId !== null && h.rolledBackByJobId === null).map((h) => h.hostId!);
  const later = await svc.db.jobHost.findMany({
    where: { hostId: { in: touched }, snapshotTaken: true, rolledBackByJobId: null, jobId: { gte: target.id }, job: { projectId: target.projectId, kind: 'publish' } },
    orderBy: { jobId: 'desc' }, select: { hostId: true, jobId: true },
  });
  // Hosts are named as they are called now: a host may have been renamed since it was published to.
  const names = new Map((await svc.db.host.findMany({ where: { id: { in: touched } }, select: { id: true, name: true } })).map((h) => [h.id, h.name]));
  const perHost = new Map<number, { hostId: number; hostName: string; jobIds: number[] }>();
  for (const row of later) {
    const entry = perHost.get(row.hostId!) ?? { hostId: row.hostId!, hostName: names.get(row.hostId!)!, jobIds: [] };
    entry.jobIds.push(row.jobId);
    perHost.set(row.hostId!, entry);
  }
  const undoes = [...new Set(later.map((r) => r.jobId))].sort((a, b) => b - a);
  return { hosts: [...perHost.values()].sort((a, b) => a.hostName.localeCompare(b.hostName)), undoes };
}

type RollbackHosts = Awaited<ReturnType<typeof planRollback>>['hosts'];

export async function startRollback(core: JobCore, ctx: Ctx, jobId: number): Promise<{ jobId: number; status: JobStatus }> {
  const { svc } = core;
  const target = await rollbackTarget(svc, ctx, jobId);
  const project = target.project;
  await assertCan(svc, ctx, 'rollback', project, 'rollback');
  if (project.rollbackNeedsApproval) {
    // What the request shows; the plan is made again under the project's slot when it is approved.
    const { hosts } = await planRollback(svc, target);
    if (hosts.length === 0) throw nothingToRollBack(jobId);
    return requestApproval(svc, ctx, project, rollbackSpec(jobId, hosts), hosts.map((h) => ({ id: h.hostId, name: h.hostName })), `rolls back job #${jobId} on ${hosts.length} host(s)`);
  }
  // The plan is made under the project lock, so no publish can finish between planning and running.
  const slot = await core.locks.claim(ctx, project, 'rollback');
  let job;
  let hosts: RollbackHosts;
  try {
    ({ hosts } = await planRollback(svc, target));
    if (hosts.length === 0) throw nothingToRollBack(jobId);
    job = await createJob(svc, ctx, project, rollbackSpec(jobId, hosts), hosts.map((h) => ({ id: h.hostId, name: h.hostName })));
    await recordOp(svc, ctx, { action: 'rollback.start', result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: `rolls back job #${jobId} on ${hosts.length} host(s)` });
  } catch (err) {
    slot.release();
    if (job) await abandon(svc, job.id, err);
    throw err;
  }
  runRollback(core, ctx, job, project, hosts, slot, ctx.actor.name);
  return { jobId: job.id, status: 'running' };
}

/**
 * An approved rollback request: plans again under the project's slot (publishes may have landed or been rolled back
 * since it was asked for), stores the plan as the job's hosts and runs it. Throws, releasing the slot, when nothing
 * is left to roll back.
 */
export async function runApprovedRollback(core: JobCore, ctx: Ctx, job: { id: number; kind: string; params: string; userName: string }, project: ProjectFull,
  slot: ProjectSlot, markRunning: () => Promise<void>): Promise<void> {
  const { svc } = core;
  const targetJobId = (JSON.parse(job.params) as { targetJobId?: number }).targetJobId ?? 0;
  let hosts: RollbackHosts;
  try {
    const target = await svc.db.job.findUnique({ where: { id: targetJobId }, include: { hosts: true } });
    if (!target) throw new FerryError('invalid', tk('Job #{{id}}, which this request rolls back, no longer exists.'), { params: { id: targetJobId } });
    ({ hosts } = await planRollback(svc, target));
    if (hosts.length === 0) throw nothingToRollBack(targetJobId);
    await markRunning();
    await svc.db.$transaction([
      svc.db.jobHost.deleteMany({ where: { jobId: job.id } }),
      svc.db.job.update({
        where: { id: job.id },
        data: { params: JSON.stringify(rollbackSpec(targetJobId, hosts).params), hosts: { create: hosts.map((h) => ({ hostId: h.hostId, hostName: h.hostName })) } },
      }),
    ]);
  } catch (err) {
    slot.release();
    throw err;
  }
  runRollback(core, ctx, job, project, hosts, slot, job.userName);
}

const nothingToRollBack = (jobId: number) => new FerryError('invalid', tk('Job #{{id}} left nothing to roll back: no host has a snapshot from it, or it was already rolled back.'), { params: { id: jobId } });

const rollbackSpec = (targetJobId: number, hosts: RollbackHosts) =>
  ({ kind: 'rollback' as const, params: { targetJobId, undoes: hosts.map((h) => ({ host: h.hostName, jobIds: h.jobIds })) } });

function runRollback(core: JobCore, ctx: Ctx, rollbackJob: { id: number; kind: string }, project: { id: number; name: string; deployDir: string; concurrency: number },
  hosts: RollbackHosts, slot: ProjectSlot, author: string): void {
  const { svc } = core;
  launch(core, ctx, rollbackJob, project, slot, async (emit) => {
    const plans = await hostPlans(svc, { ctx, jobId: rollbackJob.id, kind: 'rollback', emit }, project, hosts.map((h) => h.hostId));
    const usable = hosts.filter((h) => plans.has(h.hostId));
    if (usable.length === 0) return;
    const marks: Promise<unknown>[] = [];
    // Each host is marked as soon as it reports, so a crash mid-rollback still leaves an accurate record.
    const markRestored = (hostName: string, jobIds: number[]) => {
      const host = hosts.find((x) => x.hostName === hostName);
      if (!host || jobIds.length === 0) return;
      marks.push(svc.db.jobHost.updateMany({ where: { hostId: host.hostId, jobId: { in: jobIds } }, data: { rolledBackByJobId: rollbackJob.id } }));
      marks.push(forgetHostFiles(svc, project.id, host.hostId, jobIds));
    };
    const track = (event: Parameters<typeof emit>[0]) => {
      if (event.type === 'host' && event.status === 'succeeded') markRestored(event.host, hosts.find((x) => x.hostName === event.host)?.jobIds ?? []);
      if (event.type === 'host' && event.status === 'failed' && event.restoredJobIds) markRestored(event.host, event.restoredJobIds);
      return emit(event);
    };
    try {
      await core.engine.rollback({
        jobId: rollbackJob.id, project: project.name, user: author, concurrency: concurrencyOf(project),
        hosts: usable.map((h) => ({ ...plans.get(h.hostId)!, jobIds: h.jobIds })),
      }, track);
    } finally {
      await Promise.all(marks);
    }
  });
}
