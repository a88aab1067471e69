// JobRunner: the one object the web layer and the server hold for jobs. It owns the per-process state (project
// slots, process lanes, live jobs) and hands it to the publish, rollback and process modules; retry lives here.
import { JOB_QUEUE } from '../../config.ts';
import type { Engine } from '../../deploy/runner-types.ts';
import { badRequest, conflict, notFound } from '../../lib/errors.ts';
import type { Ctx, Services } from '../context.ts';
import type { JobCore } from './launch.ts';
import { ProjectLanes } from './lanes.ts';
import { LiveJobs } from './live.ts';
import { ProjectLocks } from './lock.ts';
import { startProcessAction, type ProcessInput } from './process.ts';
import { startPublish, type PublishInput } from './publish.ts';
import { rollbackPlan, startRollback } from './rollback.ts';
import { isActiveStatus } from './status.ts';
import { assertJobVisible, getJob, markInterrupted } from './store.ts';
import { continueWaves, remainingWaves, stopWaves, WaveWaits } from './waves.ts';

export class JobRunner {
  private readonly live: LiveJobs;
  private readonly core: JobCore;

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

  startPublish(ctx: Ctx, projectName: string, input: PublishInput): Promise<{ jobId: number }> {
    return startPublish(this.core, ctx, projectName, input);
  }

  /** What rolling back `jobId` would undo, per host: that publish and every later one still in place, newest first. */
  rollbackPlan(ctx: Ctx, jobId: number) {
    return rollbackPlan(this.svc, ctx, jobId);
  }

  startRollback(ctx: Ctx, jobId: number): Promise<{ jobId: number }> {
    return startRollback(this.core, ctx, jobId);
  }

  startProcessAction(ctx: Ctx, projectName: string, input: ProcessInput): Promise<{ jobId: number }> {
    return startProcessAction(this.core, ctx, projectName, input);
  }

  /** Runs a finished job again on the hosts where it failed (a publish keeps its files and exact revision). */
  async retry(ctx: Ctx, jobId: number): Promise<{ jobId: number }> {
    const job = await this.svc.db.job.findUnique({ where: { id: jobId }, include: { project: true, hosts: true } });
    if (!job) throw notFound(`Job #${jobId}`);
    await assertJobVisible(this.svc, ctx, job, 'retry');
    if (isActiveStatus(job.status)) throw conflict(`Job #${jobId} is still running; wait for it to finish before retrying.`);
    const params = JSON.parse(job.params) as { action?: string; processes?: string[]; targetJobId?: number; batchSize?: number };
    if (job.kind === 'rollback') return this.startRollback(ctx, params.targetJobId!);
    const failedIds = job.hosts.filter((h) => h.status !== 'succeeded' && h.hostId !== null).map((h) => h.hostId!);
    if (failedIds.length === 0) throw badRequest(`Job #${jobId} succeeded on every host (or its failed hosts were deleted); there is nothing to retry.`);
    // By id, so a host renamed since then is still found.
    const failedHosts = (await this.svc.db.host.findMany({ where: { id: { in: failedIds } }, select: { name: true } })).map((h) => h.name);
    if (job.kind === 'publish') {
      // A publish in waves is retried in the same waves, so the hosts left are not all published at once.
      const waves = await remainingWaves(this.core, job, (status) => status !== 'succeeded');
      return startPublish(this.core, ctx, job.project.name, {
        files: JSON.parse(job.files), revision: job.revision ?? undefined, hosts: failedHosts, note: `retry of job #${jobId}`,
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

  getJob(ctx: Ctx, jobId: number) {
    return getJob(this.svc, ctx, jobId);
  }

  /** Live events of a running job; returns null when the job is not running in this process. */
  subscribe(jobId: number, onEvent: (e: unknown) => void, onEnd: () => void): (() => void) | null {
    return this.live.subscribe(jobId, onEvent, onEnd);
  }

  /** Writes a running job's buffered output to the database (so a snapshot read next is complete). */
  async flush(jobId: number): Promise<void> {
    await this.live.flush(jobId);
  }

  /** Whether the job is running in this process (so its live events can be followed). */
  isRunning(jobId: number): boolean {
    return this.live.get(jobId) !== undefined;
  }

  /** Resolves when every job started so far has finished (tests wait on it before cleaning up). */
  idle(): Promise<void> {
    return this.live.idle();
  }
}
