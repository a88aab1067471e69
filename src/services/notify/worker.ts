// The delivery worker: sends the queued messages (NotificationDelivery rows, so a restart loses none) a few at a
// time, retries a failed one after growing delays and gives up after the last, records each channel's last outcome,
// writes failures to the operation log, and keeps the table bounded. Nothing here can delay or fail a job.
import { NOTIFY_DELIVERY, type SmtpConfig } from '../../config.ts';
import { decryptSecret } from '../../lib/crypto.ts';
import type { Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import type { ChannelKind, DeliveredEvent } from './message.ts';
import { DeliveryError, sendTo, type ChannelTarget, type SendSettings } from './send.ts';

export interface WorkerOptions extends SendSettings {
  /** Delay before each retry; its length is the number of retries. */
  retryDelaysMs: readonly number[];
  concurrency: number;
  pollMs: number;
  keepMs: number;
  keepRows: number;
}

/** The worker of each database, so `notify()` (which only has the services) can wake it when it queues a message. */
const running = new WeakMap<object, NotificationWorker>();

/** Wakes the worker serving `db`, if one runs in this process; otherwise its next poll (or start) finds the rows. */
export function wakeWorker(db: object): void {
  running.get(db)?.wake();
}

const SYSTEM = { actor: null, ip: '', userName: 'system' } as const;
const PRUNE_EVERY_MS = 3600_000;

type ChannelRow = { id: number; name: string; kind: string; urlEnc: string | null; urlHint: string; secretEnc: string | null; to: string };

/** Where a channel sends to, as the operation log may show it (never the URL's query, never a secret). */
export const channelTargetLabel = (c: { name: string; urlHint: string; to: string }) => `${c.name} (${c.urlHint || c.to})`;

/** Decrypts what sending needs; a key that cannot read the stored URL is a delivery failure like any other. */
export function channelTarget(svc: Pick<Services, 'secretKey'>, c: ChannelRow): ChannelTarget {
  try {
    return {
      kind: c.kind as ChannelKind,
      url: c.urlEnc ? decryptSecret(svc.secretKey, c.urlEnc) : null,
      secret: c.secretEnc ? decryptSecret(svc.secretKey, c.secretEnc) : null,
      to: c.to,
    };
  } catch (err) {
    throw new DeliveryError(err instanceof Error ? err.message : String(err));
  }
}

/** Sends once and records the outcome on the channel; resolves to null when sent, else the problem. Never throws. */
export async function sendAndRecord(svc: Services, settings: SendSettings, channel: ChannelRow, event: DeliveredEvent): Promise<string | null> {
  let problem: string | null = null;
  try {
    await sendTo(channelTarget(svc, channel), event, settings);
  } catch (err) {
    if (!(err instanceof DeliveryError)) svc.logger.warn({ err, channelId: channel.id }, 'notification failed unexpectedly');
    problem = err instanceof Error ? err.message : String(err);
  }
  await svc.db.notificationChannel.update({
    where: { id: channel.id },
    data: { lastStatus: problem ? 'failed' : 'sent', lastError: problem ?? '', lastAt: new Date() },
  }).catch(() => undefined); // deleted meanwhile
  return problem;
}

export class NotificationWorker {
  readonly options: WorkerOptions;
  private readonly inFlight = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private lastPrune = 0;

  constructor(private readonly svc: Services, settings: { publicUrl: string; smtp: SmtpConfig | null }, options: Partial<WorkerOptions> = {}) {
    this.options = {
      retryDelaysMs: NOTIFY_DELIVERY.retryDelaysMs, concurrency: NOTIFY_DELIVERY.concurrency, pollMs: NOTIFY_DELIVERY.pollMs,
      keepMs: NOTIFY_DELIVERY.keepMs, keepRows: NOTIFY_DELIVERY.keepRows, timeoutMs: NOTIFY_DELIVERY.timeoutMs,
      responseBytes: NOTIFY_DELIVERY.responseBytes, ...settings, ...options,
    };
  }

  /** Starts polling (and sends what a previous run left queued). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    running.set(this.svc.db, this);
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops taking messages and waits for those being sent (each is bounded by the request timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (running.get(this.svc.db) === this) running.delete(this.svc.db);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    await Promise.allSettled(this.inFlight.values());
  }

  /** Looks for due messages now. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err) => this.svc.logger.error({ err }, 'notification queue check failed'))
      .finally(() => {
        this.ticking = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Resolves once nothing is due or being sent (tests; the next retry may still be scheduled). */
  async idle(): Promise<void> {
    for (;;) {
      await this.ticking;
      await Promise.allSettled(this.inFlight.values());
      const due = await this.svc.db.notificationDelivery.count({ where: { status: 'pending', nextAt: { lte: new Date() } } });
      if (!this.ticking && this.inFlight.size === 0 && (due === 0 || this.stopped)) return;
      this.wake();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async tick(): Promise<void> {
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      await this.prune();
    }
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0 || this.stopped) return;
    const rows = await this.svc.db.notificationDelivery.findMany({
      where: { status: 'pending', nextAt: { lte: new Date() }, id: { notIn: [...this.inFlight.keys()] } },
      orderBy: [{ nextAt: 'asc' }, { id: 'asc' }], take: free,
    });
    for (const row of rows) {
      const sending = this.deliver(row)
        .catch((err) => this.svc.logger.error({ err, deliveryId: row.id }, 'could not record a notification delivery'))
        .finally(() => {
          this.inFlight.delete(row.id);
          this.wake();
        });
      this.inFlight.set(row.id, sending);
    }
  }

  private async deliver(row: { id: number; channelId: number; event: string; jobId: number | null; payload: string; attempts: number }): Promise<void> {
    const { svc, options } = this;
    const channel = await svc.db.notificationChannel.findUnique({ where: { id: row.channelId }, include: { project: { select: { name: true } } } });
    if (!channel) return; // deleted with its deliveries
    if (!channel.enabled) {
      await svc.db.notificationDelivery.update({ where: { id: row.id }, data: { status: 'failed', error: 'The channel was turned off before this message went out.' } });
      return;
    }
    let event: DeliveredEvent;
    try {
      event = JSON.parse(row.payload) as DeliveredEvent;
    } catch {
      // Never sendable: fail it now rather than retry it on every poll.
      await svc.db.notificationDelivery.update({ where: { id: row.id }, data: { status: 'failed', error: 'The queued message is unreadable.' } });
      return;
    }
    const attempts = row.attempts + 1;
    const problem = await sendAndRecord(svc, options, channel, event);
    if (!problem) {
      await svc.db.notificationDelivery.update({ where: { id: row.id }, data: { status: 'sent', attempts, sentAt: new Date(), error: '' } });
      return;
    }
    const delay = options.retryDelaysMs[attempts - 1];
    const giveUp = delay === undefined;
    await svc.db.notificationDelivery.update({
      where: { id: row.id },
      data: { status: giveUp ? 'failed' : 'pending', attempts, error: problem, ...(giveUp ? {} : { nextAt: new Date(Date.now() + delay) }) },
    });
    const next = giveUp ? `gave up after ${attempts} attempts` : `attempt ${attempts}, next try in ${humanDelay(delay)}`;
    await recordOp(svc, SYSTEM, {
      action: giveUp ? 'notify.give-up' : 'notify.failed', result: 'failed', project: channel.project.name,
      target: channelTargetLabel(channel), jobId: row.jobId ?? undefined, detail: `${row.event}: ${problem} (${next})`,
    });
  }

  /** Keeps the delivery table bounded: finished rows older than keepMs go, and beyond keepRows the oldest. */
  private async prune(): Promise<void> {
    const { db } = this.svc;
    const finished = { status: { in: ['sent', 'failed'] } };
    await db.notificationDelivery.deleteMany({ where: { ...finished, createdAt: { lt: new Date(Date.now() - this.options.keepMs) } } });
    const oldestKept = await db.notificationDelivery.findFirst({ where: finished, orderBy: { id: 'desc' }, skip: this.options.keepRows - 1, select: { id: true } });
    if (oldestKept) await db.notificationDelivery.deleteMany({ where: { ...finished, id: { lt: oldestKept.id } } });
  }
}

/** "30 s", "2 min", "1 h" */
export function humanDelay(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (ms < 3600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3600_000)} h`;
}
