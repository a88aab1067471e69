// Approval: on a project that requires it, a publish (and a rollback, if the project says so) is stored as a request
// in status `awaiting_approval` and runs only when someone else holding "approve" on the project approves it. The
// requester stays the job's author; the approver's decision is recorded on the job and in the operation log.
// A request can be rejected (with a reason), cancelled by its author, or expire after the project's approvalHours.
import { badRequest, FerryError } from '../../lib/errors.ts';
import { fill, tk } from '../../lib/messages.ts';
import type { Ctx, Services } from '../context.ts';
import { notify } from '../notify/index.ts';
import { recordOp } from '../oplog.ts';
import { can } from '../permissions.ts';
import { jobNotFound } from './request.ts';
import { assertJobVisible, createJob, type JobSpec } from './store.ts';
import type { JobStatus } from './status.ts';

const HOUR_MS = 3_600_000;
/** A rejection's reason, like a job's note, is kept up to this many characters. */
const REASON_MAX = 1000;
const SYSTEM = { actor: null, ip: '', userName: 'system' } as const;

type Decision = 'rejected' | 'cancelled' | 'expired';

/** The job row as the decisions need it. */
export type RequestRow = NonNullable<Awaited<ReturnType<typeof loadRequest>>>;

function loadRequest(svc: Services, jobId: number) {
  return svc.db.job.findUnique({ where: { id: jobId }, include: { project: true, hosts: true } });
}

const isAuthor = (ctx: Ctx, job: { userId: number | null; userName: string }) =>
  ctx.actor.id !== null ? job.userId === ctx.actor.id : job.userId === null && job.userName === ctx.actor.name;

/** What the actor may do with a request: approve/reject (holding "approve", not the author) and cancel (the author). */
export function requestRights(ctx: Ctx, job: { status: string; projectId: number; userId: number | null; userName: string }) {
  const pending = job.status === 'awaiting_approval';
  const own = isAuthor(ctx, job);
  return { decide: pending && !own && can(ctx.actor, 'approve', job.projectId), cancel: pending && own, own };
}

/** Stores the job as a request waiting for approval; nothing is locked or contacted until it is approved. */
export async function requestApproval(svc: Services, ctx: Ctx, project: { id: number; name: string; approvalHours: number },
  spec: JobSpec, hosts: { id: number; name: string }[], what: string, store?: (jobId: number) => Promise<void>): Promise<{ jobId: number; status: JobStatus }> {
  const hours = Math.min(Math.max(Math.trunc(project.approvalHours) || 24, 1), 24 * 30);
  const job = await createJob(svc, ctx, project, { ...spec, expiresAt: new Date(Date.now() + hours * HOUR_MS) }, hosts);
  await svc.db.jobHost.updateMany({ where: { jobId: job.id }, data: { phase: 'awaiting approval' } });
  await store?.(job.id);
  await recordOp(svc, ctx, { action: `${spec.kind}.request`, result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: `${what}; awaiting approval for ${hours} h` });
  notify(svc, { event: 'approval.requested', project: project.name, jobId: job.id, kind: spec.kind, status: 'awaiting_approval', revision: spec.revision ?? null, user: ctx.actor.name, hostCount: hosts.length });
  return { jobId: job.id, status: 'awaiting_approval' };
}

/**
 * The request `jobId`, checked to be visible, still waiting, and not expired (an expired one is closed here and
 * refused with 409, whatever the sweep has done so far).
 */
async function pendingRequest(svc: Services, ctx: Ctx, jobId: number, action: string): Promise<RequestRow> {
  const job = await loadRequest(svc, jobId);
  if (!job) throw jobNotFound(jobId);
  await assertJobVisible(svc, ctx, job, action);
  if (job.status === 'awaiting_approval' && job.expiresAt && job.expiresAt.getTime() <= Date.now()) {
    await closeRequest(svc, SYSTEM, job, 'expired', '');
    job.status = 'expired';
  }
  if (job.status !== 'awaiting_approval') {
    await recordOp(svc, ctx, { action, result: 'denied', project: job.project.name, target: `job #${job.id}`, jobId: job.id, detail: `status ${job.status}` });
    throw undecidable(job);
  }
  return job;
}

/** Why a request that is not waiting any more cannot be decided (409). */
function undecidable(job: RequestRow): FerryError {
  const id = job.id;
  if (job.status === 'expired') {
    return job.expiresAt
      ? new FerryError('conflict', tk('Job #{{id}} cannot be decided any more: it expired at {{at}} UTC; ask for a new one.'), { params: { id, at: job.expiresAt.toISOString().slice(0, 16).replace('T', ' ') } })
      : new FerryError('conflict', tk('Job #{{id}} cannot be decided any more: it expired; ask for a new one.'), { params: { id } });
  }
  if (job.status === 'rejected' || job.status === 'cancelled') {
    return job.decidedByName
      ? new FerryError('conflict', tk('Job #{{id}} cannot be decided any more: it was {{status}} by {{user}}.'), { params: { id, status: job.status, user: job.decidedByName }, keyParams: ['status'] })
      : new FerryError('conflict', tk('Job #{{id}} cannot be decided any more: it was {{status}}.'), { params: { id, status: job.status }, keyParams: ['status'] });
  }
  return job.decidedByName
    ? new FerryError('conflict', tk('Job #{{id}} cannot be decided any more: {{user}} already approved it.'), { params: { id, user: job.decidedByName } })
    : new FerryError('conflict', tk('Job #{{id}} cannot be decided any more: it is not waiting for approval.'), { params: { id } });
}

/** Refuses (403, logged) an actor without "approve" on the project, and the request's own author. */
async function assertMayDecide(svc: Services, ctx: Ctx, job: RequestRow, action: string): Promise<void> {
  let refusal: string | null = null;
  if (isAuthor(ctx, job)) {
    refusal = action.endsWith('approve')
      ? tk('You cannot approve your own request: someone else holding "approve" on project "{{project}}" has to decide.')
      : tk('You cannot reject your own request: someone else holding "approve" on project "{{project}}" has to decide (you can cancel it instead).');
  } else if (!can(ctx.actor, 'approve', job.projectId)) refusal = tk('You do not have permission to approve or reject requests of project "{{project}}".');
  if (!refusal) return;
  const params = { project: job.project.name };
  await recordOp(svc, ctx, { action, result: 'denied', project: job.project.name, target: `job #${job.id}`, jobId: job.id, detail: fill(refusal, params) });
  throw new FerryError('refused', refusal, { params });
}

/**
 * Approves a waiting request: checks the actor may decide, then `run` claims the project's slot and starts the job
 * (it throws, and the request stays waiting, when the project is busy). The status moves from awaiting_approval to
 * running in one conditional update, so two approvers clicking at once start it once.
 */
export async function approveRequest(svc: Services, ctx: Ctx, jobId: number,
  run: (job: RequestRow, markRunning: () => Promise<void>) => Promise<void>): Promise<{ jobId: number; status: JobStatus }> {
  const job = await pendingRequest(svc, ctx, jobId, 'job.approve');
  await assertMayDecide(svc, ctx, job, `${job.kind}.approve`);
  await run(job, async () => {
    const now = new Date();
    const moved = await svc.db.job.updateMany({
      where: { id: job.id, status: 'awaiting_approval' },
      data: { status: 'running', startedAt: now, decidedById: ctx.actor.id, decidedByName: ctx.actor.name, decidedAt: now },
    });
    if (moved.count === 0) throw new FerryError('conflict', tk('Job #{{id}} was decided by someone else a moment ago.'), { params: { id: job.id } });
    await svc.db.jobHost.updateMany({ where: { jobId: job.id, status: 'queued' }, data: { phase: 'queued' } });
    await recordOp(svc, ctx, { action: `${job.kind}.approve`, result: 'ok', project: job.project.name, target: `job #${job.id}`, jobId: job.id, detail: `approved the request of ${job.userName}` });
    notify(svc, { event: 'approval.approved', project: job.project.name, jobId: job.id, kind: job.kind, status: 'running', revision: job.revision, user: job.userName, decidedBy: ctx.actor.name, hostCount: job.hosts.length });
  });
  return { jobId: job.id, status: 'running' };
}

export async function rejectRequest(svc: Services, ctx: Ctx, jobId: number, reasonInput: unknown): Promise<{ jobId: number; status: JobStatus }> {
  const reason = typeof reasonInput === 'string' ? reasonInput.trim() : '';
  if (!reason) throw badRequest('Say why the request is rejected: the requester sees the reason.', { reason: tk('required') });
  if (reason.length > REASON_MAX) throw new FerryError('invalid', tk('The reason is too long (at most {{max}} characters).'), { params: { max: REASON_MAX }, fields: { reason: tk('too long') } });
  const job = await pendingRequest(svc, ctx, jobId, 'job.reject');
  await assertMayDecide(svc, ctx, job, `${job.kind}.reject`);
  await closeRequest(svc, ctx, job, 'rejected', reason);
  return { jobId: job.id, status: 'rejected' };
}

export async function cancelRequest(svc: Services, ctx: Ctx, jobId: number): Promise<{ jobId: number; status: JobStatus }> {
  const job = await pendingRequest(svc, ctx, jobId, 'job.cancel');
  if (!isAuthor(ctx, job)) {
    const refusal = tk('Only {{user}}, who asked for job #{{id}}, can cancel it; an approver can reject it instead.');
    const params = { user: job.userName, id: job.id };
    await recordOp(svc, ctx, { action: `${job.kind}.cancel`, result: 'denied', project: job.project.name, target: `job #${job.id}`, jobId: job.id, detail: fill(refusal, params) });
    throw new FerryError('refused', refusal, { params });
  }
  await closeRequest(svc, ctx, job, 'cancelled', '');
  return { jobId: job.id, status: 'cancelled' };
}

/** Closes every request whose time ran out (run by the runner's sweep, and before counting what waits). */
export async function expireRequests(svc: Services): Promise<number> {
  const due = await svc.db.job.findMany({ where: { status: 'awaiting_approval', expiresAt: { lte: new Date() } }, include: { project: true, hosts: true } });
  let closed = 0;
  for (const job of due) if (await closeRequest(svc, SYSTEM, job, 'expired', '')) closed++;
  return closed;
}

/** Ends a request without running it; false when someone else decided first. */
async function closeRequest(svc: Services, ctx: Ctx | typeof SYSTEM, job: RequestRow, status: Decision, note: string): Promise<boolean> {
  const now = new Date();
  const decider = status === 'expired' ? {} : { decidedById: ctx.actor?.id ?? null, decidedByName: ctx.actor?.name ?? 'system', decidedAt: now };
  const hostNote = status === 'rejected' ? fill(tk('not run: rejected by {{user}}'), { user: ctx.actor?.name ?? '' })
    : status === 'cancelled' ? tk('not run: the request was cancelled') : tk('not run: nobody approved the request in time');
  const [moved] = await svc.db.$transaction([
    svc.db.job.updateMany({ where: { id: job.id, status: 'awaiting_approval' }, data: { status, finishedAt: now, decisionNote: note, ...decider } }),
    svc.db.jobHost.updateMany({ where: { jobId: job.id, status: 'queued' }, data: { status: 'skipped', phase: 'not run', error: hostNote } }),
  ]);
  if (moved.count === 0) return false;
  const detail = status === 'rejected' ? `rejected the request of ${job.userName}: ${note}` : status === 'cancelled' ? 'cancelled the request' : `expired after waiting since ${job.createdAt.toISOString()}`;
  await recordOp(svc, ctx, { action: `${job.kind}.${status === 'rejected' ? 'reject' : status === 'cancelled' ? 'cancel' : 'expire'}`, result: 'ok', project: job.project.name, target: `job #${job.id}`, jobId: job.id, detail });
  if (status === 'rejected') {
    notify(svc, { event: 'approval.rejected', project: job.project.name, jobId: job.id, kind: job.kind, status, revision: job.revision, user: job.userName, decidedBy: ctx.actor?.name, reason: note, hostCount: job.hosts.length });
  }
  return true;
}

/** Which waiting requests the actor could decide on: projects where they hold "approve", not their own, not expired. */
function decidableWhere(ctx: Ctx) {
  const projectIds = ctx.actor.role === 'admin' ? undefined
    : [...ctx.actor.grants.entries()].filter(([, g]) => g.approve).map(([id]) => id);
  if (projectIds && projectIds.length === 0) return null;
  return {
    status: 'awaiting_approval', expiresAt: { gt: new Date() },
    ...(projectIds ? { projectId: { in: projectIds } } : {}),
    NOT: ctx.actor.id !== null ? { userId: ctx.actor.id } : { userName: ctx.actor.name, userId: null },
  };
}

/** How many requests wait for this actor's decision (the navigation badge). */
export async function countDecidable(svc: Pick<Services, 'db'>, ctx: Ctx): Promise<number> {
  const where = decidableWhere(ctx);
  return where ? svc.db.job.count({ where }) : 0;
}

/** Requests the actor could decide on now (for the dashboard), newest first. */
export async function requestsAwaiting(svc: Pick<Services, 'db'>, ctx: Ctx, take = 20) {
  const where = decidableWhere(ctx);
  if (!where) return [];
  const jobs = await svc.db.job.findMany({ where, orderBy: { id: 'desc' }, take, select: { id: true, kind: true, userName: true, revision: true, files: true, createdAt: true, expiresAt: true, project: { select: { name: true } }, _count: { select: { hosts: true } } } });
  return jobs.map((j) => ({ id: j.id, kind: j.kind, project: j.project.name, user: j.userName, revision: j.revision, fileCount: (JSON.parse(j.files) as unknown[]).length, createdAt: j.createdAt, expiresAt: j.expiresAt, hostCount: j._count.hosts }));
}
