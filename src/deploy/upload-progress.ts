// Upload progress of one stream (a host's package, or a relay's copy), thinned out for the job stream: the first
// count at once, then at most one every PROGRESS_LIMITS.hostIntervalMs (the latest count, sent when the interval is
// over even if no more bytes came), and the final count always, so a watcher sees the bar reach its total.
import { PROGRESS_LIMITS } from '../config.ts';

export interface UploadSample {
  /** Bytes of the package handed to SSH so far. */
  sent: number;
  /** The package's size (an estimate while it is still being packed). */
  total: number;
  /** Bytes per second: smoothed while sending, the average over the whole upload once complete. */
  rate: number;
}

/** Weight of the newest interval in the smoothed rate. */
const RATE_SMOOTHING = 0.5;

export class UploadThrottle {
  private first: { at: number; sent: number } | null = null;
  private last: { at: number; sent: number; total: number } | null = null;
  private rate = 0;
  private pending: { sent: number; total: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly report: (sample: UploadSample) => void,
    private readonly intervalMs: number = PROGRESS_LIMITS.hostIntervalMs,
  ) {}

  /** A new count; reported now, later (the latest one, once the interval is over) or never (unchanged). */
  update(sent: number, total: number): void {
    if (this.closed) return;
    const now = Date.now();
    this.first ??= { at: now, sent: 0 };
    const complete = sent >= total;
    if (complete || !this.last || now - this.last.at >= this.intervalMs) return this.send(sent, total, now, complete);
    this.pending = { sent, total };
    this.timer ??= setTimeout(() => {
      this.timer = null;
      const pending = this.pending;
      if (pending && !this.closed) this.send(pending.sent, pending.total, Date.now(), false);
    }, this.intervalMs - (now - this.last.at));
    this.timer.unref();
  }

  /** No more reports (the upload ended or failed): a count still waiting is dropped. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  private send(sent: number, total: number, now: number, complete: boolean): void {
    this.pending = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const last = this.last;
    if (last && last.sent === sent && last.total === total) return;
    if (complete) {
      const elapsed = now - this.first!.at;
      // A package sent within one tick has no meaningful average: keep the last smoothed rate then.
      if (elapsed > 0) this.rate = Math.round(((sent - this.first!.sent) * 1000) / elapsed);
    } else if (last && now > last.at) {
      const current = ((sent - last.sent) * 1000) / (now - last.at);
      this.rate = Math.round(this.rate ? RATE_SMOOTHING * current + (1 - RATE_SMOOTHING) * this.rate : current);
    }
    this.last = { at: now, sent, total };
    this.report({ sent, total, rate: this.rate });
    if (complete) this.close();
  }
}
