// Requests the services hand to the release engine. Everything is already resolved and decrypted:
// the engine never reads the database. Never log these objects (they hold credentials).
import type { HookSpec } from './hooks.ts';
import type { FetchedFile, HostCheck } from './inspect.ts';
import type { SvnRepository } from './svn/index.ts';
import type { EventSink, HostTarget } from './types.ts';

export interface HostPlan {
  name: string;
  target: HostTarget;
  /** Absolute deploy directory on this host (the host's own setting, else the project's). */
  deployDir: string;
  /** For hosts behind a jump host: copy the package to the relay once (store-forward) or stream through it (tunnel). */
  relayMode: 'auto' | 'tunnel' | 'store-forward';
}

export interface PublishRequest {
  jobId: number;
  project: string;
  user: string;
  keepSnapshots: number;
  concurrency: number;
  svn: SvnRepository;
  /** Undefined: HEAD at the time of export. */
  revision?: number;
  files: string[];
  /** Paths inside selected folders left out of the release ("this folder except these"). */
  exclude?: string[];
  /** The publisher's note (shown in history; engines may ignore it). */
  note?: string;
  hosts: (HostPlan & {
    /** Snapshot of this job must survive pruning (newest successful publish). */
    protectJobId?: number;
    /** Snapshots of other projects' publishes on this host, which this project's pruning must leave alone. */
    foreignJobIds?: number[];
    /** What Ferry recorded putting on this host (HostFile): the files of the package among them are checked for hand edits. */
    recorded?: readonly { path: string; sha256: string; size: number }[];
  })[];
  /** Hand edits: refused per host unless `overwrite`; `skipUnchanged` lets hosts holding every file already stop there. */
  drift?: { overwrite: boolean; skipUnchanged: boolean };
  hooks: { beforePublish: HookSpec[]; afterPublish: HookSpec[] };
}

export interface PublishOutcome {
  revision: number;
  fileCount: number;
  bytes: number;
  /** The regular files published (path, sha256, size), for Ferry's record of what each host holds. */
  files?: { path: string; sha256: string; size: number }[];
  /** Hosts that found files edited by hand: refused there, or overwritten (drift.overwrite). */
  drift?: { host: string; paths: string[]; overwritten: boolean }[];
}

/** What a publish of `files` at `revision` would put on the hosts, packed as the publish will pack it. */
export interface ManifestRequest {
  project: string;
  svn: SvnRepository;
  revision?: number;
  files: string[];
  /** Paths inside selected folders left out, as the publish will leave them out. */
  exclude?: string[];
}

export interface RollbackRequest {
  jobId: number;
  project: string;
  user: string;
  concurrency: number;
  /** Per host: the publish jobs to undo, newest first. */
  hosts: (HostPlan & { jobIds: number[] })[];
}

export type ProcessAction = 'start' | 'stop' | 'restart' | 'status';

export interface ProcessSpec {
  name: string;
  startCmd: string;
  stopCmd: string;
  statusCmd: string;
}

export interface ProcessRequest {
  jobId: number;
  project: string;
  user: string;
  concurrency: number;
  action: ProcessAction;
  /** Limit for each command and hook of the action; the engine's default (minutes) when absent. */
  commandTimeoutMs?: number;
  hosts: (HostPlan & { processes: ProcessSpec[] })[];
  hooks: { beforeRestart: HookSpec[]; afterRestart: HookSpec[] };
}

/** The release engine as the services see it; per-host results arrive as 'host' events on the sink. */
export interface Engine {
  publish(req: PublishRequest, emit: EventSink): Promise<PublishOutcome>;
  rollback(req: RollbackRequest, emit: EventSink): Promise<void>;
  processAction(req: ProcessRequest, emit: EventSink): Promise<void>;
  /** Preview and drift (inspect.ts); optional so that engines made for tests need not have them. */
  releaseManifest?(req: ManifestRequest): Promise<{ revision: number; files: { path: string; sha256: string; size: number }[] }>;
  /** One command per host, at most `concurrency` hosts at once; an unreachable host answers ok: false. */
  checkHosts?(hosts: HostPlan[], paths: string[], concurrency: number): Promise<HostCheck[]>;
  fetchHostFile?(host: HostPlan, path: string): Promise<FetchedFile>;
}
