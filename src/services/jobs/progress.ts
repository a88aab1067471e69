// Upload progress of a running job for live watchers: the latest count per host (kept in memory for snapshots, so a
// page loaded mid-upload shows its bars) and the live events, at most PROGRESS_LIMITS.hostsPerTick hosts per tick,
// the hosts waiting longest first. Only the latest count of a host is ever held, so nothing queues up.
import { PROGRESS_LIMITS } from '../../config.ts';
import type { JobEvent } from '../../deploy/types.ts';

export type ProgressEvent = Extract<JobEvent, { type: 'progress' }>;

/** What the job JSON says of a host's upload (GET /api/jobs/:id while the job runs, and the SSE snapshot). */
export interface UploadView {
  sent: number;
  total: number;
  rate: number;
  relay?: string;
}

export class LiveProgress {
  private latest = new Map<string, ProgressEvent>();
  private unsent = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly send: (event: ProgressEvent) => void,
    private readonly limits: { tickMs: number; hostsPerTick: number } = PROGRESS_LIMITS,
  ) {}

  push(event: ProgressEvent): void {
    this.latest.set(event.host, event);
    this.unsent.add(event.host);
    this.timer ??= setTimeout(() => this.tick(), this.limits.tickMs);
  }

  /** Sends a host's unsent count at once (before its next phase, so its bar is complete first). */
  sendNow(host: string): void {
    if (this.unsent.delete(host)) this.send(this.latest.get(host)!);
  }

  /** Sends every unsent count (the job is ending) and stops the timer. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const host of this.unsent) this.sendNow(host);
  }

  of(host: string): UploadView | null {
    const event = this.latest.get(host);
    if (!event) return null;
    const { sent, total, rate, relay } = event;
    return relay === undefined ? { sent, total, rate } : { sent, total, rate, relay };
  }

  private tick(): void {
    this.timer = null;
    let room = this.limits.hostsPerTick;
    for (const host of this.unsent) {
      if (room-- <= 0) break;
      this.sendNow(host);
    }
    if (this.unsent.size) this.timer = setTimeout(() => this.tick(), this.limits.tickMs);
  }
}
