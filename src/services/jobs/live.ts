// Jobs running in this Ferry process: each one's event emitter and recorder, so a browser can follow it live (SSE),
// and its background task, so shutdown and tests can wait for every job to end.
import { EventEmitter } from 'node:events';
import type { Services } from '../context.ts';
import { JobRecorder } from './recorder.ts';

export interface LiveJob {
  emitter: EventEmitter;
  projectId: number;
  kind: string;
  recorder: JobRecorder;
}

export class LiveJobs {
  private jobs = new Map<number, LiveJob>();
  private tasks = new Set<Promise<void>>();

  constructor(private readonly svc: Services) {}

  /** Registers a job that is about to run; its recorder is the engine's event sink. */
  open(job: { id: number; kind: string }, projectId: number): JobRecorder {
    const emitter = new EventEmitter();
    emitter.setMaxListeners(0);
    const recorder = new JobRecorder(this.svc, job.id, emitter);
    this.jobs.set(job.id, { emitter, projectId, kind: job.kind, recorder });
    return recorder;
  }

  /** Keeps a job's background task until `close`, for `idle`. */
  track(task: Promise<void>): void {
    this.tasks.add(task);
  }

  /** The job is over: watchers get `end`, and the job and its task are forgotten. */
  close(jobId: number, task: Promise<void>): void {
    this.jobs.get(jobId)?.emitter.emit('end');
    this.jobs.delete(jobId);
    this.tasks.delete(task);
  }

  get(jobId: number): LiveJob | undefined {
    return this.jobs.get(jobId);
  }

  /** Live events of a running job; returns null when the job is not running in this process. */
  subscribe(jobId: number, onEvent: (e: unknown) => void, onEnd: () => void): (() => void) | null {
    const live = this.jobs.get(jobId);
    if (!live) return null;
    live.emitter.on('event', onEvent);
    live.emitter.once('end', onEnd);
    return () => {
      live.emitter.off('event', onEvent);
      live.emitter.off('end', onEnd);
    };
  }

  /** Writes a running job's buffered output to the database (so a snapshot read next is complete). */
  async flush(jobId: number): Promise<void> {
    await this.jobs.get(jobId)?.recorder.drain();
  }

  /** Resolves when every job started so far has finished. */
  async idle(): Promise<void> {
    while (this.tasks.size) await Promise.all([...this.tasks]);
  }
}
