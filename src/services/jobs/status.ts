// The kinds of job and the statuses a job and each of its hosts go through, as stored in Job.status and JobHost.status.
// "Active" (queued or running) means not finished yet: it blocks a second publish, a project's deletion and a retry.

export const JOB_KINDS = ['publish', 'rollback', 'process', 'drift'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

// paused: a publish in waves waiting between two waves for someone to click Continue (it keeps the project's slot).
// awaiting_approval: a request waiting for someone holding "approve" (approval.ts); it holds nothing.
export const JOB_STATUSES = [
  'awaiting_approval', 'queued', 'running', 'paused', 'succeeded', 'partial', 'failed', 'interrupted', 'rejected', 'cancelled', 'expired',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A request that never ran: it was turned down, withdrawn, or nobody decided in time. Its hosts are `skipped`. */
export const CLOSED_REQUEST_STATUSES = ['rejected', 'cancelled', 'expired'] as const satisfies readonly JobStatus[];

/** Statuses of a job that never ran anything on a host (waiting for approval, or a closed request). */
export function neverRan(status: string): boolean {
  return status === 'awaiting_approval' || (CLOSED_REQUEST_STATUSES as readonly string[]).includes(status);
}

// skipped: a host of a wave that never started, of a rolling process batch after a failed one, or of a request that
// never ran; never touched.
export const HOST_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'skipped'] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

/** Statuses of a job, or of one host of a job ('paused' is a job's only), that has not finished. Spread it for Prisma (`{ in: [...ACTIVE_JOB_STATUSES] }`). */
export const ACTIVE_JOB_STATUSES = ['queued', 'running', 'paused'] as const satisfies readonly JobStatus[];

export function isActiveStatus(status: string): boolean {
  return (ACTIVE_JOB_STATUSES as readonly string[]).includes(status);
}
