// Jobs: publish, rollback and process actions as persisted jobs with per-host results and live events.
// This is the public API; runner.ts holds JobRunner, and each module beside it does one part (see its first lines).
export { JobRunner } from './runner.ts';
export type { PublishInput } from './publish.ts';
export type { ProcessInput } from './process.ts';
export { jobIdParam } from './request.ts';
export { countDecidable, requestRights, requestsAwaiting } from './approval.ts';
export {
  ACTIVE_JOB_STATUSES, HOST_STATUSES, JOB_KINDS, JOB_STATUSES, isActiveStatus, neverRan, type HostStatus, type JobKind, type JobStatus,
} from './status.ts';
export { WAVE_STATUS_VIEW, continueOffer, describeWaveSettings, type WavesState } from './waves-plan.ts';
