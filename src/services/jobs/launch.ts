// Runs a job's engine part in the background once its row exists, and records the outcome whatever happens:
// the job's status, the operation log entry, the live `end` event, and giving back its project slot or lane place.
import { operatorMessage } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Engine } from '../../deploy/runner-types.ts';
import type { Ctx, Services } from '../context.ts';
import { notifyJob } from '../notify/index.ts';
import { recordOp } from '../oplog.ts';
import type { LaneTicket, ProjectLanes } from './lanes.ts';
import type { LiveJobs } from './live.ts';
import type { ProjectLocks, ProjectSlot } from './lock.ts';
import type { JobRecorder } from './recorder.ts';
import { finishJob } from './store.ts';
import type { WaveWaits } from './waves.ts';

/** What publish, rollback and process jobs share: one per JobRunner. */
export interface JobCore {
  svc: Services;
  engine: Engine;
  locks: ProjectLocks;
  live: LiveJobs;
  /** Process jobs wait here per project; publish and rollback use `locks` (refused with 409 instead of waiting). */
  processLanes: ProjectLanes;
  /** Publishes in waves waiting between two waves for Continue (or the end of a pause). */
  waves: WaveWaits;
}

/**
 * `slot` is the project's publish/rollback slot (null for process jobs); a process job waits for `lane` first and
 * then `recheck`s that it may still run.
 */
export function launch(core: JobCore, ctx: Ctx, job: { id: number; kind: string }, project: { id: number; name: string }, slot: ProjectSlot | null,
  work: (emit: JobRecorder['emit']) => Promise<{ revision?: number } | void>, lane?: LaneTicket, recheck?: () => Promise<void>): void {
  const { svc, live } = core;
  const recorder = live.open(job, project.id);
  slot?.holdFor(job.id);
  const task: Promise<void> = (async () => {
    let error: string | null = null;
    let revision: number | undefined;
    try {
      if (lane) {
        await lane.turn();
        // The permission was checked when the job was queued; it may have been withdrawn while it waited.
        await recheck?.();
        await svc.db.job.update({ where: { id: job.id }, data: { status: 'running', startedAt: new Date() } });
        recorder.emit({ type: 'job', status: 'running', message: tk('started') });
      }
      notifyJob(svc, job.id, 'started'); // publish.started; queued only, never waited for
      revision = (await work(recorder.emit))?.revision;
    } catch (err) {
      // A FerryError says what went wrong in the operator's words; anything else is logged with its stack and shown
      // as an internal error with an id to find it in the log.
      error = operatorMessage(err, svc.logger, { jobId: job.id });
      svc.logger.warn({ jobId: job.id, reason: error }, 'job failed');
    }
    await recorder.drain();
    const status = await finishJob(svc, job.id, error, revision);
    recorder.emit({ type: 'job', status, message: error ?? undefined });
    notifyJob(svc, job.id, 'finished');
    await recordOp(svc, ctx, {
      action: `${job.kind}.finish`, result: status === 'succeeded' ? 'ok' : 'failed', project: project.name,
      target: `job #${job.id}`, jobId: job.id, detail: error ?? `status ${status}`,
    });
  })().catch((err) => svc.logger.error({ err, jobId: job.id }, 'could not finish job'))
    .finally(() => {
      slot?.release();
      lane?.leave();
      live.close(job.id, task);
    });
  live.track(task);
}

/** For a job whose row exists but could not be launched: records the failure, so it does not show as running. */
export async function abandon(svc: Services, jobId: number, err: unknown): Promise<void> {
  await finishJob(svc, jobId, operatorMessage(err, svc.logger, { jobId }));
}
