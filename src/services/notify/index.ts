// Notifications: queue an event for every enabled channel of its project that subscribes to it.
// (Stub: the delivery queue and channel kinds are being built; calling it is already safe.)
import type { Services } from '../context.ts';
import type { NotifyEvent } from './events.ts';

export type { NotifyEvent, NotifyEventName } from './events.ts';
export { NOTIFY_EVENTS } from './events.ts';

/** Queues the event; never throws and never waits for delivery. */
export function notify(svc: Services, event: NotifyEvent): void {
  void svc;
  void event;
}
