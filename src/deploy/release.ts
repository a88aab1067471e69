// The release path on a host, one file per step under release/ (receive, verify, snapshot, extract, prune, restore),
// composed into one remote command per publish and per rollback by release/program.ts.
export { DEFAULT_KEEP_SNAPSHOTS, PUBLISH_PHASES, publishToHost, type PublishOptions, type PublishPhase, type PublishResult, type RelayLeg } from './release/publish.ts';
export { ROLLBACK_PHASES, rollbackHost, type RollbackOptions, type RollbackPhase, type RollbackResult } from './release/rollback.ts';
