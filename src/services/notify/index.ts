// Notifications: queue an event for every enabled channel of its project that subscribes to it; the worker
// (worker.ts) sends the queue. Job code calls notify() or notifyJob(): both return at once and never throw.
import type { Services } from '../context.ts';
import type { NotifyEvent, NotifyEventName } from './events.ts';
import { wakeWorker } from './worker.ts';

export type { NotifyEvent, NotifyEventName } from './events.ts';
export { NOTIFY_EVENTS } from './events.ts';
export { NotificationWorker } from './worker.ts';

/** Queues the event; never throws and never waits for delivery. */
export function notify(svc: Services, event: NotifyEvent): void {
  const about = event as Partial<NotifyEvent> | undefined; // even a malformed call must not throw from the catch
  void enqueue(svc, event).catch((err) => svc.logger.warn({ err, event: about?.event, jobId: about?.jobId }, 'could not queue a notification'));
}

/** A channel's stored event list ("" or "[]": every event) includes `name`. */
export function subscribes(events: string, name: string): boolean {
  if (!events) return true;
  try {
    const list = JSON.parse(events) as unknown;
    return !Array.isArray(list) || list.length === 0 || list.includes(name);
  } catch {
    return true;
  }
}

async function enqueue(svc: Services, event: NotifyEvent): Promise<void> {
  const channels = await svc.db.notificationChannel.findMany({ where: { enabled: true, project: { name: event.project } }, select: { id: true, events: true } });
  const wanted = channels.filter((c) => subscribes(c.events, event.event));
  if (!wanted.length) return;
  const payload = JSON.stringify(event);
  await svc.db.notificationDelivery.createMany({ data: wanted.map((c) => ({ channelId: c.id, event: event.event, jobId: event.jobId, payload })) });
  wakeWorker(svc.db);
}

/**
 * Reads a job and queues the event its moment calls for: `started` gives publish.started (publishes only);
 * `finished` gives publish.succeeded/failed/partial, rollback (any outcome) or process.failed (unless it succeeded).
 * `event` names another event explicitly (e.g. approval.requested). Never throws, never waits.
 */
export function notifyJob(svc: Services, jobId: number, moment: 'started' | 'finished' | NotifyEventName, extra: Partial<NotifyEvent> = {}): void {
  void jobEvent(svc, jobId, moment)
    .then((event) => event && notify(svc, { ...event, ...extra }))
    .catch((err) => svc.logger.warn({ err, jobId }, 'could not queue a notification'));
}

async function jobEvent(svc: Services, jobId: number, moment: 'started' | 'finished' | NotifyEventName): Promise<NotifyEvent | null> {
  const job = await svc.db.job.findUnique({
    where: { id: jobId },
    include: { project: { select: { name: true } }, hosts: { select: { hostName: true, status: true }, orderBy: { hostName: 'asc' } } },
  });
  if (!job) return null;
  const name = eventFor(job.kind, job.status, moment);
  if (!name) return null;
  const params = JSON.parse(job.params) as { action?: unknown };
  const failedHosts = moment === 'started' ? [] : job.hosts.filter((h) => h.status !== 'succeeded').map((h) => h.hostName);
  return {
    event: name, project: job.project.name, jobId: job.id, kind: job.kind, status: job.status, revision: job.revision, user: job.userName,
    hostCount: job.hosts.length,
    ...(failedHosts.length ? { failedHosts } : {}),
    ...(job.error ? { reason: job.error } : {}),
    ...(job.decidedByName ? { decidedBy: job.decidedByName } : {}),
    ...(job.decisionNote && name === 'approval.rejected' ? { reason: job.decisionNote } : {}),
    ...(typeof params.action === 'string' ? { action: params.action } : {}),
  };
}

function eventFor(kind: string, status: string, moment: 'started' | 'finished' | NotifyEventName): NotifyEventName | null {
  if (moment === 'started') return kind === 'publish' ? 'publish.started' : null;
  if (moment !== 'finished') return moment;
  if (kind === 'rollback') return 'rollback';
  if (kind === 'process') return status === 'succeeded' ? null : 'process.failed';
  if (kind === 'publish') return status === 'succeeded' ? 'publish.succeeded' : status === 'partial' ? 'publish.partial' : 'publish.failed';
  return null;
}
