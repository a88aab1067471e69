// The events a project's notification channels can subscribe to, and what each event carries. Job code calls
// `notify()` (src/services/notify/index.ts); it only queues the message, so delivery never delays or fails a job.

export const NOTIFY_EVENTS = [
  'approval.requested', // a publish or rollback waits for someone holding "approve"
  'approval.approved',
  'approval.rejected',
  'publish.started',
  'publish.succeeded',
  'publish.failed',
  'publish.partial',
  'rollback', // a rollback finished (any outcome)
  'process.failed', // a start/stop/restart/status job did not succeed on every host
] as const;
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

export interface NotifyEvent {
  event: NotifyEventName;
  project: string;
  jobId: number;
  /** publish | rollback | process */
  kind: string;
  /** The job's final or current status (succeeded, failed, partial, awaiting_approval, rejected…). */
  status: string;
  revision?: number | null;
  /** Who asked for the job (its author). */
  user: string;
  /** Who approved or rejected it, for approval.approved / approval.rejected. */
  decidedBy?: string;
  /** A rejection's reason, or a failed job's error. */
  reason?: string;
  hostCount: number;
  failedHosts?: string[];
  /** process jobs: start | stop | restart | status. */
  action?: string;
}
