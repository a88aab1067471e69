// JobRunner: the one object the web layer and the server hold for jobs. It owns the per-process state (project
// slots, process lanes, live jobs) and hands it to the publish, rollback and process modules; retry lives here.
import { JOB_QUEUE } from '../../config.ts';
import type { Engine } from '../../deploy/runner-types.ts';
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Ctx, Services } from '../context.ts';
import type { JobCore } from './launch.ts';
import { ProjectLanes } from './lanes.ts';
import { LiveJobs } from './live.ts';
import { ProjectLocks } from './lock.ts';
import { fileDiff } from './diff.ts';
import { startDriftCheck } from './drift.ts';
import { previewPublish } from './preview.ts';
import { startProcessAction, type ProcessInput } from './process.ts';
import { approveRequest, cancelRequest, expireRequests, rejectRequest } from './approval.ts';
import { runApproved } from './approved.ts';
import { startPublish, type PublishInput } from './publish.ts';
import { excludeOf, jobNotFound } from './request.ts';
import { rollbackPlan, startRollback } from './rollback.ts';
import { isActiveStatus, neverRan, type JobStatus } from './status.ts';
import { assertJobVisible, getJob, markInterrupted } from './store.ts';
import { continueWaves, remainingWaves, stopWaves, WaveWaits } from './waves.ts';

/** How often requests whose time ran out are closed as expired. */
const EXPIRY_SWEEP_MS = 60_000;

export class JobRunner {
  private readonly live: LiveJobs;
  private readonly core: JobCore;
  private sweep: NodeJS.Timeout | null = null;

  constructor(private readonly svc: Services, engine: Engine) {
    this.live = new LiveJobs(svc);
    this.core = {
      svc, engine, live: this.live, locks: new ProjectLocks(svc),
      processLanes: new ProjectLanes(JOB_QUEUE.processJobsPerProject, JOB_QUEUE.maxQueuedPerProject), waves: new WaveWaits(),
    };
  }

  /** Start-up: jobs a crash left running can never finish; say so instead of showing them running forever. */
  markInterrupted(): Promise<number> {
    return markInterrupted(this.svc);
  }

  /** Closes expired approval requests now and then every minute (the server calls this; tests call expireRequests). */
  startHousekeeping(): void {
    const run = () => void expireRequests(this.svc).catch((err) => this.svc.logger.warn({ err }, 'could not close expired approval requests'));
    run();
    this.sweep ??= setInterval(run, EXPIRY_SWEEP_MS).unref();
  }

  stopHousekeeping(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }

  expireRequests(): Promise<number> {
    return expireRequests(this.svc);
  }

  /** Runs a request waiting for approval, as the approver's decision; the requester stays its author. */
  approve(ctx: Ctx, jobId: number) {
    return approveRequest(this.svc, ctx, jobId, (job, markRunning) => runApproved(this.core, ctx, job, markRunning));
  }

  reject(ctx: Ctx, jobId: number, reason: unknown) {
    return rejectRequest(this.svc, ctx, jobId, reason);
  }

  cancel(ctx: Ctx, jobId: number) {
    return cancelRequest(this.svc, ctx, jobId);
  }

  startPublish(ctx: Ctx, projectName: string, input: PublishInput): Promise<{ jobId: number; status: JobStatus }> {
    return startPublish(this.core, ctx, projectName, input);
  }

  /** What rolling back `jobId` would undo, per host: that publish and every later one still in place, newest first. */
  rollbackPlan(ctx: Ctx, jobId: number) {
    return rollbackPlan(this.svc, ctx, jobId);
  }

  startRollback(ctx: Ctx, jobId: number): Promise<{ jobId: number; status: JobStatus }> {
    return startRollback(this.core, ctx, jobId);
  }

  startProcessAction(ctx: Ctx, projectName: string, input: ProcessInput): Promise<{ jobId: number }> {
    return startProcessAction(this.core, ctx, projectName, input);
  }

  /** What a publish would change on each host (preview.ts); nothing is changed anywhere. */
  preview(ctx: Ctx, projectName: string, input: PublishInput) {
    return previewPublish(this.core, ctx, projectName, input);
  }

  /** A file between two revisions, or on a host against what Ferry put there (diff.ts). */
  diff(ctx: Ctx, projectName: string, query: Record<string, unknown>) {
    return fileDiff(this.core, ctx, projectName, query);
  }

  startDriftCheck(ctx: Ctx, projectName: string, input: { hosts?: unknown; groups?: unknown }): Promise<{ jobId: number }> {
    return startDriftCheck(this.core, ctx, projectName, input);
  }

  /**
   * Runs a finished job again on the hosts where it failed (a publish keeps its files and exact revision). A publish
   * retried with `overwriteDrift` replaces the files edited by hand that made hosts refuse it.
   */
  async retry(ctx: Ctx, jobId: number, input: { overwriteDrift?: unknown } = {}): Promise<{ jobId: number }> {
    const job = await this.svc.db.job.findUnique({ where: { id: jobId }, include: { project: true, hosts: true } });
    if (!job) throw jobNotFound(jobId);
    await assertJobVisible(this.svc, ctx, job, 'retry');
    if (isActiveStatus(job.status)) throw new FerryError('conflict', tk('Job #{{id}} is still running; wait for it to finish before retrying.'), { params: { id: jobId } });
    if (neverRan(job.status)) throw new FerryError('invalid', tk('Job #{{id}} never ran ({{status}}); there is nothing to retry.'), { params: { id: jobId, status: job.status.replace('_', ' ') }, keyParams: ['status'] });
    const params = JSON.parse(job.params) as { action?: string; processes?: string[]; targetJobId?: number; batchSize?: number };
    if (job.kind === 'rollback') return this.startRollback(ctx, params.targetJobId!);
    if (job.kind === 'drift') return this.startDriftCheck(ctx, job.project.name, {});
    const failedIds = job.hosts.filter((h) => h.status !== 'succeeded' && h.hostId !== null).map((h) => h.hostId!);
    if (failedIds.length === 0) throw new FerryError('invalid', tk('Job #{{id}} succeeded on every host (or its failed hosts were deleted); there is nothing to retry.'), { params: { id: jobId } });
    // By id, so a host renamed since then is still found.
    const failedHosts = (await this.svc.db.host.findMany({ where: { id: { in: failedIds } }, select: { name: true } })).map((h) => h.name);
    if (job.kind === 'publish') {
      // A publish in waves is retried in the same waves, so the hosts left are not all published at once.
      const waves = await remainingWaves(this.core, job, (status) => status !== 'succeeded');
      return startPublish(this.core, ctx, job.project.name, {
        files: JSON.parse(job.files), exclude: excludeOf(job.params), revision: job.revision ?? undefined, hosts: failedHosts, note: `retry of job #${jobId}`,
        overwriteDrift: input.overwriteDrift === true,
      }, waves ?? undefined);
    }
    return this.startProcessAction(ctx, job.project.name, { action: params.action, processes: params.processes, hosts: failedHosts, batchSize: params.batchSize });
  }

  /** Continue a publish in waves: the paused job goes on, or a stopped one's waves left start as a new job. */
  continueWaves(ctx: Ctx, jobId: number): Promise<{ jobId: number }> {
    return continueWaves(this.core, ctx, jobId, (project, input, waves) => startPublish(this.core, ctx, project, input, waves));
  }

  /** Stop a publish in waves while it waits between waves; the later waves' hosts stay untouched. */
  stopWaves(ctx: Ctx, jobId: number): Promise<{ jobId: number }> {
    return stopWaves(this.core, ctx, jobId);
  }

  /** The job; while it runs here, each host carries its latest upload count (for pages loaded mid-upload). */
  async getJob(ctx: Ctx, jobId: number) {
    const job = await getJob(this.svc, ctx, jobId);
    const recorder = this.live.get(jobId)?.recorder;
    if (recorder) for (const host of job.hosts) host.upload = recorder.uploadOf(host.host);
    return job;
  }

  /** Live events of a running job; returns null when the job is not running in this process. */
  subscribe(jobId: number, onEvent: (e: unknown) => void, onEnd: () => void): (() => void) | null {
    return this.live.subscribe(jobId, onEvent, onEnd);
  }

  /** Writes a running job's buffered output to the database (so a snapshot read next is complete). */
  async flush(jobId: number): Promise<void> {
    await this.live.flush(jobId);
  }

  /** Resolves when every job started so far has finished (tests wait on it before cleaning up). */
  idle(): Promise<void> {
    return this.live.idle();
  }
}
