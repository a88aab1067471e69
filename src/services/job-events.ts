// Turns engine events into database rows (per-host status, phase, output) and live notifications for SSE.
// Output is buffered briefly so a chatty hook does not become thousands of tiny writes.
import { EventEmitter } from 'node:events';
import type { JobEvent } from '../deploy/types.ts';
import type { Services } from './context.ts';

const FLUSH_MS = 250;
const MAX_OUTPUT_CHARS = 512 * 1024;

export interface LiveJob {
  emitter: EventEmitter;
  projectId: number;
  kind: string;
  recorder: JobRecorder;
}

export class JobRecorder {
  private pending = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly svc: Pick<Services, 'db' | 'logger'>, readonly jobId: number, private readonly emitter: EventEmitter) {}

  /** The engine's event sink: never throws, persists in order; host events resolve once written. */
  readonly emit = (event: JobEvent): void | Promise<void> => {
    this.emitter.emit('event', event);
    if (event.type === 'output') {
      this.pending.set(event.host, (this.pending.get(event.host) ?? '') + event.text);
      this.timer ??= setTimeout(() => void this.flushOutput(), FLUSH_MS);
      return;
    }
    if (event.type === 'host') {
      const { host, status, phase, error, snapshotTaken, exitCode } = event;
      const now = new Date();
      return this.enqueue(async () => {
        await this.flushOutputNow(host);
        await this.svc.db.jobHost.updateMany({
          where: { jobId: this.jobId, hostName: host },
          data: {
            status, phase,
            ...(error !== undefined ? { error } : {}),
            ...(snapshotTaken !== undefined ? { snapshotTaken } : {}),
            ...(exitCode !== undefined ? { exitCode } : {}),
            ...(status !== 'running' && status !== 'queued' ? { finishedAt: now } : {}),
          },
        });
        if (status === 'running') {
          await this.svc.db.jobHost.updateMany({ where: { jobId: this.jobId, hostName: host, startedAt: null }, data: { startedAt: now } });
        }
      });
    }
  };

  private enqueue(task: () => Promise<unknown>): Promise<void> {
    const done = this.chain.then(task).then(() => undefined, (err) => this.svc.logger.error({ err, jobId: this.jobId }, 'could not record job progress'));
    this.chain = done;
    return done;
  }

  private flushOutput(): Promise<unknown> {
    this.timer = null;
    const hosts = [...this.pending.keys()];
    for (const host of hosts) this.enqueue(() => this.flushOutputNow(host));
    return this.chain;
  }

  private async flushOutputNow(host: string): Promise<void> {
    const text = this.pending.get(host);
    if (!text) return;
    this.pending.delete(host);
    // Append in SQL; keep only the tail of runaway output. Host '' is the Ferry server itself (export, local hooks).
    if (host === '') {
      await this.svc.db.$executeRaw`UPDATE Job SET output = substr(output || ${text}, -${MAX_OUTPUT_CHARS}) WHERE id = ${this.jobId}`;
    } else {
      await this.svc.db.$executeRaw`UPDATE JobHost SET output = substr(output || ${text}, -${MAX_OUTPUT_CHARS}) WHERE jobId = ${this.jobId} AND hostName = ${host}`;
    }
  }

  /** Waits until every event so far is in the database. */
  async drain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flushOutput();
    await this.chain;
  }
}
