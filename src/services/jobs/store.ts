// Job rows in the database: the project a job is for, creating a job, recording how it ended, reading it back, and
// marking jobs a crash left unfinished. Reading a job checks that the actor may see its project.
import { notFound } from '../../lib/errors.ts';
import type { Ctx, Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { assertCanSee, canSeeProject } from '../permissions.ts';
import type { UploadView } from './progress.ts';
import { parseTimeline } from './timeline.ts';
import { ACTIVE_JOB_STATUSES, type JobKind, type JobStatus } from './status.ts';
import { parseWaves, skipUnstartedWaves } from './waves-plan.ts';

export type ProjectFull = NonNullable<Awaited<ReturnType<typeof loadProject>>>;

/** Start-up: jobs a crash left running can never finish; say so instead of showing them running forever. */
export async function markInterrupted(svc: Services): Promise<number> {
  const stale = await svc.db.job.findMany({ where: { status: { in: [...ACTIVE_JOB_STATUSES] } }, select: { id: true, projectId: true, kind: true, waves: true, project: { select: { name: true } } } });
  for (const job of stale) {
    // A publish in waves (also one paused between waves) ends interrupted too; hosts of waves not started stay untouched.
    await skipUnstartedWaves(svc, job);
    await svc.db.$transaction([
      svc.db.jobHost.updateMany({ where: { jobId: job.id, status: { in: [...ACTIVE_JOB_STATUSES] } }, data: { status: 'failed', phase: 'interrupted', error: 'Ferry stopped while this host was in progress.', finishedAt: new Date() } }),
      svc.db.job.update({ where: { id: job.id }, data: { status: 'interrupted', finishedAt: new Date(), error: 'Ferry stopped before the job finished. Check each host; a publish can be rolled back.' } }),
    ]);
    await recordOp(svc, { actor: null, ip: '', userName: 'system' }, { action: `${job.kind}.interrupted`, result: 'failed', project: job.project.name, jobId: job.id, target: `job #${job.id}`, detail: 'marked interrupted at start-up' });
  }
  return stale.length;
}

function loadProject(svc: Services, name: string) {
  return svc.db.project.findUnique({
    where: { name },
    include: {
      groups: { include: { hosts: { select: { id: true, name: true } } } },
      processes: { include: { groups: { include: { hosts: { select: { id: true, name: true } } } } } },
      hooks: { orderBy: [{ position: 'asc' }, { id: 'asc' }] },
    },
  });
}

/** The project with its groups, processes and hooks, if the actor may see it. */
export async function projectFor(svc: Services, ctx: Ctx, name: string, action: string): Promise<ProjectFull> {
  const project = await loadProject(svc, name);
  if (!project) throw notFound(`Project "${name}"`);
  await assertCanSee(svc, ctx, project, action);
  return project;
}

/** What a job row says it will do (before hosts). */
export interface JobSpec { kind: JobKind; revision?: number | null; files?: string[]; params?: object; note?: string }

export async function createJob(svc: Services, ctx: Ctx, project: { id: number },
  data: JobSpec & { queued?: boolean; expiresAt?: Date }, hosts: { id: number; name: string }[]) {
  // A job is created running, queued (process jobs waiting for their lane), or waiting for approval (with expiresAt).
  const status: JobStatus = data.expiresAt ? 'awaiting_approval' : data.queued ? 'queued' : 'running';
  return svc.db.job.create({
    data: {
      kind: data.kind, status, projectId: project.id, userId: ctx.actor.id, userName: ctx.actor.name,
      revision: data.revision ?? null, files: JSON.stringify(data.files ?? []), params: JSON.stringify(data.params ?? {}),
      note: data.note ?? '', startedAt: status === 'running' ? new Date() : null, expiresAt: data.expiresAt ?? null,
      hosts: { create: hosts.map((h) => ({ hostId: h.id, hostName: h.name })) },
    },
  });
}

/** Records how a job ended, from its hosts' results; after an error, hosts still active are marked failed. */
export async function finishJob(svc: Services, jobId: number, error: string | null, revision?: number): Promise<JobStatus> {
  if (error) {
    await svc.db.jobHost.updateMany({ where: { jobId, status: { in: [...ACTIVE_JOB_STATUSES] } }, data: { status: 'failed', phase: 'failed', error: `Not done: ${error}`, finishedAt: new Date() } });
  }
  const hosts = await svc.db.jobHost.findMany({ where: { jobId }, select: { status: true } });
  const ok = hosts.filter((h) => h.status === 'succeeded').length;
  const status: JobStatus = error && ok === 0 ? 'failed' : ok === hosts.length ? 'succeeded' : ok === 0 ? 'failed' : 'partial';
  await svc.db.job.update({ where: { id: jobId }, data: { status, error, finishedAt: new Date(), ...(revision !== undefined ? { revision } : {}) } });
  return status;
}

/**
 * A job of a project the actor cannot see is answered exactly like a job that does not exist (404), so job ids
 * reveal neither project names nor which ids exist. The refusal is still written to the operation log.
 */
export async function assertJobVisible(svc: Services, ctx: Ctx, job: { id: number; project: { id: number; name: string } }, action: string): Promise<void> {
  if (canSeeProject(ctx.actor, job.project.id)) return;
  await recordOp(svc, ctx, { action, result: 'denied', project: job.project.name, target: `job #${job.id}`, detail: 'no grant on this project' });
  throw notFound(`Job #${job.id}`);
}

/** One job with its hosts, as the job page and the API show it. */
export async function getJob(svc: Services, ctx: Ctx, jobId: number) {
  const job = await svc.db.job.findUnique({ where: { id: jobId }, include: { project: { select: { id: true, name: true } }, hosts: { orderBy: { hostName: 'asc' } } } });
  if (!job) throw notFound(`Job #${jobId}`);
  await assertJobVisible(svc, ctx, job, 'job.view');
  return {
    id: job.id, kind: job.kind, status: job.status, project: job.project.name, user: job.userName, revision: job.revision,
    files: JSON.parse(job.files) as string[], params: JSON.parse(job.params) as Record<string, unknown>, note: job.note, error: job.error, output: job.output,
    waves: parseWaves(job.waves),
    createdAt: job.createdAt, startedAt: job.startedAt, finishedAt: job.finishedAt,
    expiresAt: job.expiresAt, decidedBy: job.decidedByName, decidedAt: job.decidedAt, decisionNote: job.decisionNote,
    hosts: job.hosts.map((h) => ({
      host: h.hostName, status: h.status, phase: h.phase, error: h.error, output: h.output, exitCode: h.exitCode,
      snapshotTaken: h.snapshotTaken, rolledBackByJobId: h.rolledBackByJobId, startedAt: h.startedAt, finishedAt: h.finishedAt,
      wave: h.wave, gate: h.gate,
      timeline: parseTimeline(h.timeline),
      /** The latest upload count while the job runs in this process (JobRunner.getJob fills it in). */
      upload: null as UploadView | null,
      // A drift check's findings on this host (drift.ts); [] for other kinds of job.
      drift: h.drift ? (JSON.parse(h.drift) as unknown[]) : [],
    })),
  };
}
