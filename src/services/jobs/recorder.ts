// Turns engine events into database rows (per-host status, phase, output) and live notifications for SSE.
// Output is buffered briefly so a chatty hook does not become thousands of tiny writes, and it is bounded on every
// path: the database keeps the last OUTPUT_TAIL_BYTES per host after a line saying how much was dropped, and live
// watchers get at most LIVE_OUTPUT_BYTES_PER_FLUSH per host per flush, so a flood cannot pile up for a slow browser.
import { EventEmitter } from 'node:events';
import { LIVE_OUTPUT_BYTES_PER_FLUSH, OUTPUT_TAIL_BYTES } from '../../config.ts';
import { OutputTail, droppedLine, formatSize } from '../../deploy/output-tail.ts';
import type { JobEvent } from '../../deploy/types.ts';
import type { Services } from '../context.ts';
import { isActiveStatus } from './status.ts';
import { LiveProgress, type UploadView } from './progress.ts';
import { addPhase, timelinePhase, type TimelineEntry } from './timeline.ts';

const FLUSH_MS = 250;

/** Output of one host waiting for live watchers: the start of this interval's output, and what did not fit. */
interface LiveOutput {
  text: string;
  skippedBytes: number;
}

/** What the database holds for one host: characters kept after the dropped line, their bytes, and bytes dropped. */
interface StoredOutput {
  chars: number;
  bytes: number;
  dropped: number;
}

export class JobRecorder {
  /** Output not yet in the database, per host ('' is the Ferry server itself). */
  private pending = new Map<string, OutputTail>();
  private live = new Map<string, LiveOutput>();
  private stored = new Map<string, StoredOutput>();
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** Upload counts: the latest per host, sent to watchers throttled (progress.ts). */
  private readonly progress = new LiveProgress((event) => this.emitter.emit('event', event));
  /** Phase changes per host, written with each host event (JobHost.timeline). */
  private timelines = new Map<string, TimelineEntry[]>();
  /** Hosts whose start time is written. */
  private readonly started = new Set<string>();

  constructor(private readonly svc: Pick<Services, 'db' | 'logger'>, readonly jobId: number, private readonly emitter: EventEmitter) {}

  /** The engine's event sink: never throws, persists in order; host events resolve once written. */
  readonly emit = (event: JobEvent): void | Promise<void> => {
    if (event.type === 'output') {
      this.buffer(event.host, event.text);
      this.timer ??= setTimeout(() => void this.flushOutput(), FLUSH_MS);
      return;
    }
    if (event.type === 'progress') return this.progress.push(event);
    // Watchers see a host's output and upload count before the status that follows them.
    this.sendLive();
    if (event.type === 'host') this.progress.sendNow(event.host);
    this.emitter.emit('event', event);
    if (event.type === 'host') {
      const { host, status, phase, error, snapshotTaken, exitCode, gate } = event;
      const now = new Date();
      const timeline = this.timelines.get(host) ?? [];
      this.timelines.set(host, timeline);
      const moved = addPhase(timeline, timelinePhase(status, phase), now.getTime());
      const timelineJson = moved ? JSON.stringify(timeline) : undefined;
      return this.enqueue(async () => {
        await this.flushOutputNow(host);
        await this.svc.db.jobHost.updateMany({
          where: { jobId: this.jobId, hostName: host },
          data: {
            status, phase,
            ...(error !== undefined ? { error } : {}),
            ...(snapshotTaken !== undefined ? { snapshotTaken } : {}),
            ...(exitCode !== undefined ? { exitCode } : {}),
            ...(gate !== undefined ? { gate } : {}),
            ...(timelineJson !== undefined ? { timeline: timelineJson } : {}),
            ...(!isActiveStatus(status) ? { finishedAt: now } : {}),
          },
        });
        // The start time is set once (a host reports 'running' at every phase: one query each would be wasted).
        if (status === 'running' && !this.started.has(host)) {
          this.started.add(host);
          await this.svc.db.jobHost.updateMany({ where: { jobId: this.jobId, hostName: host, startedAt: null }, data: { startedAt: now } });
        }
      });
    }
  };

  private buffer(host: string, text: string): void {
    let tail = this.pending.get(host);
    if (!tail) this.pending.set(host, (tail = new OutputTail(OUTPUT_TAIL_BYTES)));
    tail.push(text);

    let live = this.live.get(host);
    if (!live) this.live.set(host, (live = { text: '', skippedBytes: 0 }));
    const room = LIVE_OUTPUT_BYTES_PER_FLUSH - live.text.length;
    if (room >= text.length) {
      live.text += text;
    } else {
      if (room > 0) live.text += text.slice(0, room);
      live.skippedBytes += Buffer.byteLength(room > 0 ? text.slice(room) : text);
    }
  }

  /** Sends the live output gathered since the last flush: one event per host, saying what it skipped. */
  private sendLive(): void {
    const hosts = [...this.live.entries()];
    this.live.clear();
    for (const [host, { text, skippedBytes }] of hosts) {
      let shown = text;
      if (skippedBytes > 0) {
        shown += `${shown === '' || shown.endsWith('\n') ? '' : '\n'}[… ${formatSize(skippedBytes)} of output not shown live; the job log keeps the last ${formatSize(OUTPUT_TAIL_BYTES)} …]\n`;
      }
      if (shown) this.emitter.emit('event', { type: 'output', host, text: shown } satisfies JobEvent);
    }
  }

  private enqueue(task: () => Promise<unknown>): Promise<void> {
    const done = this.chain.then(task).then(() => undefined, (err) => this.svc.logger.error({ err, jobId: this.jobId }, 'could not record job progress'));
    this.chain = done;
    return done;
  }

  private flushOutput(): Promise<unknown> {
    this.timer = null;
    this.sendLive();
    const hosts = [...this.pending.keys()];
    for (const host of hosts) this.enqueue(() => this.flushOutputNow(host));
    return this.chain;
  }

  /** Appends a host's pending output in the database, keeping its last OUTPUT_TAIL_BYTES after the dropped line. */
  private async flushOutputNow(host: string): Promise<void> {
    const tail = this.pending.get(host);
    if (!tail) return;
    this.pending.delete(host);
    const text = tail.body();
    const droppedNow = tail.dropped;
    const stored = this.stored.get(host) ?? { chars: 0, bytes: 0, dropped: 0 };
    if (!text && !droppedNow) return;

    if (droppedNow === 0 && stored.dropped === 0 && stored.chars + text.length <= OUTPUT_TAIL_BYTES) {
      // The common case: plain append in SQL. Host '' is the Ferry server itself (export, local hooks).
      if (host === '') await this.svc.db.$executeRaw`UPDATE Job SET output = output || ${text} WHERE id = ${this.jobId}`;
      else await this.svc.db.$executeRaw`UPDATE JobHost SET output = output || ${text} WHERE jobId = ${this.jobId} AND hostName = ${host}`;
      this.stored.set(host, { chars: stored.chars + text.length, bytes: stored.bytes + Buffer.byteLength(text), dropped: 0 });
      return;
    }

    // Past the limit: rewrite the row as dropped line + tail. When the pending tail itself overflowed it fills the
    // limit alone, so nothing of the stored text survives and it need not be read.
    const merged = new OutputTail(OUTPUT_TAIL_BYTES);
    merged.addDropped(stored.dropped);
    if (droppedNow > 0) merged.addDropped(stored.bytes + droppedNow);
    else merged.push(await this.readStoredBody(host, stored));
    merged.push(text);
    const body = merged.body();
    const output = merged.text();
    if (host === '') await this.svc.db.job.update({ where: { id: this.jobId }, data: { output } });
    else await this.svc.db.jobHost.updateMany({ where: { jobId: this.jobId, hostName: host }, data: { output } });
    this.stored.set(host, { chars: body.length, bytes: Buffer.byteLength(body), dropped: merged.dropped });
  }

  private async readStoredBody(host: string, stored: StoredOutput): Promise<string> {
    const row = host === ''
      ? await this.svc.db.job.findUnique({ where: { id: this.jobId }, select: { output: true } })
      : await this.svc.db.jobHost.findFirst({ where: { jobId: this.jobId, hostName: host }, select: { output: true } });
    const output = row?.output ?? '';
    const line = stored.dropped > 0 ? droppedLine(stored.dropped) : '';
    return line && output.startsWith(line) ? output.slice(line.length) : output;
  }

  /** A host's latest upload count while the job runs (for snapshots), or null before its upload starts. */
  uploadOf(host: string): UploadView | null {
    return this.progress.of(host);
  }

  /** Waits until every event so far is in the database (and sent to live watchers). */
  async drain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.progress.flush();
    await this.flushOutput();
    await this.chain;
  }
}
