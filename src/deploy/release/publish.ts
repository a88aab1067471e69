// A publish on one host, as one remote command (program.ts): Ferry streams the package into it, follows its progress
// lines, records the snapshot before letting it extract, then runs the after-publish hooks (the user's own commands).
// The command runs either on Ferry's own session to the host (direct, or tunnelled through jump hosts) or through a
// relay's `ssh` (store-and-forward, relay.ts), which feeds it the package the relay holds.
import { FerryError } from '../../lib/errors.ts';
import { stat } from 'node:fs/promises';
import { hookLabel, runHookChain, runRemoteHook, type HookSpec } from '../hooks.ts';
import { ancestorsOf, depthOf, jobFiles, normalizeManifestPath } from '../remote.ts';
import type { ExecOptions, ExecResult, RemoteSession } from '../types.ts';
import { failedResult } from './failures.ts';
import { programCommand, publishProgram } from './program.ts';
import { EXIT, listSection, MARK, MarkReader, ReleaseInput, StageDeadline, wireBody, wirePrelude } from './protocol.ts';
import { driftCheckFor, driftRefusal, UNCHANGED_MARK, type DriftRequest } from './drift.ts';
import { DEFAULTS, MAINTENANCE_COMMAND_TIMEOUT_MS } from '../../config.ts';
import { CommandTimeoutError } from '../transport/errors.ts';
import { PackageFeed, type PackageInfo } from './feed.ts';
import { packageChunks } from './chunk-pool.ts';

/** The stages of a publish on one host, in order; `done` is reached only on success. */
export const PUBLISH_PHASES = ['uploading', 'relay-copy', 'verifying', 'snapshot', 'extracting', 'cleanup', 'hooks', 'done'] as const;
export type PublishPhase = (typeof PUBLISH_PHASES)[number];

export const DEFAULT_KEEP_SNAPSHOTS = DEFAULTS.keepSnapshots;
/** Packages up to this size are complete before a host with records gets its drift check (see publishToHost). */
const COMPLETE_BEFORE_CHECK_BYTES = 1024 * 1024;
/** Limit for the whole publish command on a host (upload, extraction and a restore); generous for large packages. */
const DEFAULT_PUBLISH_TIMEOUT_MS = 60 * 60_000;

export type OutputListener = (chunk: string, stream: 'stdout' | 'stderr') => void;

/** Runs the release program on a host through its relay; the relay supplies the package, Ferry only the go-ahead. */
export interface RelayLeg {
  /** The relay's name, for messages. */
  relay: string;
  /** `prelude`: what the host reads before the staged package (header and drift check), sent by Ferry first. */
  run(program: string, opts: ExecOptions, preludeBytes: number): Promise<ExecResult>;
}

export interface PublishOptions {
  /** Ferry's session to the host: runs the program (unless `relay` is given) and the after-publish hooks. */
  session?: RemoteSession;
  /** Store-and-forward: the program runs through the relay's ssh, fed from the package staged there. */
  relay?: RelayLeg;
  /** For messages when there is no session. */
  hostName?: string;
  /** Absolute path on the target. */
  deployDir: string;
  jobId: number;
  /** The package, possibly still being written; else `packagePath`, `packageSha256` and `manifestPaths` describe it. */
  feed?: PackageFeed;
  /** Local path of the package (tar.gz); not read when `relay` is given. */
  packagePath?: string;
  packageSha256?: string;
  /** Every path in the package, relative to its root (as `tar t` lists them). */
  manifestPaths?: readonly string[];
  onPhase?: (phase: PublishPhase) => void;
  onOutput?: OutputListener;
  onUploadProgress?: (sent: number, total: number) => void;
  /** How much of the package to read at a time for this host (protocol.ts readChunkBytes). */
  readChunkBytes?: number;
  /** Called as soon as the snapshot is safely on the target; the host extracts only after this resolves. */
  onSnapshotTaken?: () => void | Promise<void>;
  hooks?: { afterPublish?: readonly HookSpec[] };
  /** FERRY_* variables for hooks; FERRY_FILES is added here. */
  hookEnv?: Record<string, string>;
  /** Snapshots to keep on the host (newest by job id), at least 1. */
  keepSnapshots?: number;
  /** A snapshot that pruning must never delete (the newest successful publish). */
  protectJobId?: number | null;
  /** Snapshots of other projects sharing this deploy directory: pruning neither counts nor deletes them. */
  foreignJobIds?: readonly number[];
  timeoutMs?: number;
  /** What Ferry recorded on this host: checked for hand edits before anything is received (steps/drift.ts). */
  drift?: DriftRequest;
}

export interface PublishResult {
  ok: boolean;
  /** The phase reached: where it failed, or `done`. */
  phase: PublishPhase;
  snapshotTaken: boolean;
  /** Extraction failed and the files were put back from the snapshot. */
  restored: boolean;
  error?: string;
  /** Exit code of the failing hook. */
  exitCode?: number;
  /** Output of the after-publish hooks. */
  hookOutput?: string;
  /** Problems after the files were published (cleanup); they do not fail the host. */
  warnings: string[];
  /** Every file was already in place: nothing was received, snapshotted or extracted, no hook ran. */
  unchanged?: boolean;
  /** Files edited by hand on the host: refused (ok false), or overwritten as asked. */
  drifted?: string[];
}

/** The phase each progress line of the program moves a host to (a relayed host receives from its relay). */
function phaseOfMark(mark: string, relayed: boolean): PublishPhase | null {
  switch (mark) {
    case 'phase receiving': return relayed ? 'relay-copy' : 'uploading';
    case 'phase verifying': return relayed ? 'verifying' : null;
    case 'verified': return 'snapshot';
    case 'phase extracting': return 'extracting';
    case 'phase cleanup': return 'cleanup';
    default: return null;
  }
}

/** Publishes one package to one host. Never rejects: failures come back as `ok: false` with a plain reason. */
export async function publishToHost(opts: PublishOptions): Promise<PublishResult> {
  const { deployDir, jobId } = opts;
  const hostName = opts.session?.hostName ?? opts.hostName ?? 'the host';
  const relayed = opts.relay !== undefined;
  let phase: PublishPhase = relayed ? 'relay-copy' : 'uploading';
  let snapshotTaken = false;
  let confirmError: unknown = null;
  const warnings: string[] = [];
  const drifted: string[] = [];
  let unchanged = false;
  let entered = false;
  const enter = (next: PublishPhase) => {
    if (next === phase && entered) return;
    entered = true;
    phase = next;
    opts.onPhase?.(next);
  };
  const failed = (error: string, extra: Partial<PublishResult> = {}): PublishResult => ({ ok: false, phase, snapshotTaken, restored: false, error, warnings, ...extra });

  let input: ReleaseInput | null = null;
  try {
    requireAbsolute(deployDir);
    const program = publishProgram(deployDir, jobId, {
      keep: opts.keepSnapshots ?? DEFAULT_KEEP_SNAPSHOTS,
      protectJobId: opts.protectJobId ?? null,
      foreignJobIds: opts.foreignJobIds ?? [],
    });
    if (!opts.relay && !opts.session) throw new Error('publishToHost needs a session or a relay');
    const feed = opts.feed ?? await finishedFeed(opts);
    if (feed.info) releaseLists(feed.info);
    // The recorded hashes go first: those of the package's own files, known from the packer's plan while it still packs
    // (hosts then receive as it is written; none is judged "unchanged" without the package's hashes). A small package
    // is waited for (milliseconds of packing): with its hashes a host that holds it already is skipped.
    const known = () => feed.info ?? (feed.sizeHint > COMPLETE_BEFORE_CHECK_BYTES ? feed.planned() : null) ?? feed.complete();
    const check = opts.drift?.recorded.length ? driftCheckFor(await known(), opts.drift) : null;
    const prelude = wirePrelude(check);
    input = new ReleaseInput(opts.relay ? [prelude] : withPrelude(prelude, wireBody({ feed, lists: releaseLists, onProgress: opts.onUploadProgress, readChunkBytes: opts.readChunkBytes })));
    const release = input;
    enter(phase);

    // Pruning is housekeeping: a host that hangs there must not hold the job (and the project's lock) for an hour.
    const deadline = new StageDeadline();
    const onMark = (mark: string) => {
      const next = phaseOfMark(mark, relayed);
      if (next) enter(next);
      if (next === 'cleanup') deadline.arm(MAINTENANCE_COMMAND_TIMEOUT_MS, () => new CommandTimeoutError(hostName, MAINTENANCE_COMMAND_TIMEOUT_MS, '', ''));
      if (mark === 'done') deadline.disarm();
      if (mark.startsWith('drift ')) drifted.push(mark.slice('drift '.length));
      if (mark === UNCHANGED_MARK) unchanged = true;
      if (mark === 'snapshot') {
        snapshotTaken = true;
        // The host waits for this answer before it extracts: the snapshot is in Ferry's records first.
        void Promise.resolve()
          .then(() => opts.onSnapshotTaken?.())
          .then(() => release.reply('go'), (err: unknown) => {
            confirmError = err;
            release.reply('stop');
          });
      }
      // The relay's ssh is over: end Ferry's side (gracefully, so the relay's feeding `cat` sees the end and exits).
      if (mark.startsWith('relay-exit ')) release.reply('stop');
    };
    const marks = new MarkReader(onMark);
    const onOutput = opts.onOutput;
    const execOptions: ExecOptions = {
      stdin: release.stream,
      onStdinSent: (chunk) => packageChunks.giveBack(chunk),
      timeoutMs: opts.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
      signal: deadline.signal,
      onOutput: (chunk, stream) => {
        if (stream === 'stdout') marks.push(chunk);
        else onOutput?.(chunk, stream);
      },
    };
    let result: ExecResult;
    try {
      result = opts.relay ? await opts.relay.run(program, execOptions, prelude.length) : await opts.session!.exec(programCommand(program), execOptions);
    } catch (err) {
      if (!deadline.expired) throw err;
      // The files are in place; only the clean-up did not finish.
      warnings.push(`cleaning up failed on ${hostName}: ${messageOf(err)}`);
      result = { code: 0, stdout: '', stderr: '' };
    } finally {
      deadline.disarm();
      release.dispose();
    }

    if (drifted.length) onOutput?.(`edited by hand on this host since Ferry's last release:\n${drifted.map((p) => `  ${p}\n`).join('')}`, 'stderr');
    if (result.code === EXIT.drifted && drifted.length) return failed(driftRefusal(drifted), { drifted });
    if (result.code !== 0) {
      if (confirmError !== null) throw new FerryError('failed', `recording the snapshot failed, so the host was told to stop before extracting: ${messageOf(confirmError)}`);
      return failedResult(result, { hostName, jobId, relay: opts.relay?.relay, expectedSha256: feed.info?.sha256 ?? '', onOutput, failed, dropSnapshot: () => { snapshotTaken = false; } });
    }
    if (unchanged) return { ok: true, phase, snapshotTaken: false, restored: false, warnings, unchanged: true };
    for (const line of result.stdout.split('\n')) if (line.startsWith(`${MARK}warning `)) warnings.push(`${line.slice(`${MARK}warning `.length)} on ${hostName}`);

    const afterPublish = opts.hooks?.afterPublish ?? [];
    if (afterPublish.length > 0) {
      enter('hooks');
      if (!opts.session) throw new Error('after-publish hooks need a session to the host');
      const env = { ...opts.hookEnv, FERRY_STAGE: 'after-publish', FERRY_FILES: jobFiles(deployDir, jobId).publishedList };
      const hooks = await runHookChain(afterPublish, (hook) => runRemoteHook(opts.session!, { script: hook.script, cwd: deployDir, env, timeoutMs: hook.timeoutMs, onOutput }));
      if (!hooks.ok) {
        const label = hooks.failedHook ? hookLabel(hooks.failedHook) : 'after-publish';
        const why = hooks.timedOut ? 'timed out' : `exited with code ${hooks.exitCode}`;
        return failed(`after-publish hook "${label}" ${why}`, { exitCode: hooks.exitCode, hookOutput: hooks.output });
      }
    }
    enter('done');
    return { ok: true, phase, snapshotTaken, restored: false, warnings, ...(drifted.length ? { drifted } : {}) };
  } catch (err) {
    return failed(messageOf(err));
  } finally {
    input?.dispose();
  }
}

async function* withPrelude(prelude: Buffer, body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield prelude;
  yield* body;
}

/** A complete package described by path, checksum and manifest (how tests and reused packages come). */
async function finishedFeed(opts: PublishOptions): Promise<PackageFeed> {
  const { packagePath, packageSha256, manifestPaths } = opts;
  if (packagePath === undefined || packageSha256 === undefined || manifestPaths === undefined) throw new TypeError('publishToHost needs a feed or a package path, checksum and manifest');
  const size = opts.relay ? 0 : (await stat(packagePath)).size;
  return PackageFeed.finished(packagePath, { size, sha256: packageSha256, manifestPaths });
}

/** The lists a host's program reads after the package (protocol.ts); throws for an unusable manifest or checksum. */
export function releaseLists(info: PackageInfo): Buffer {
  requireSha256(info.sha256);
  const manifest = normalizeManifest(info.manifestPaths);
  return listSection(manifest, snapshotCandidates(manifest));
}

/** Manifest paths and the parent directories not in it, deepest first: the order a rollback removes created paths in. */
function snapshotCandidates(manifest: readonly string[]): string[] {
  const inManifest = new Set(manifest);
  const parents = [...new Set(manifest.flatMap(ancestorsOf))].filter((dir) => !inManifest.has(dir));
  return [...manifest, ...parents].sort((a, b) => depthOf(b) - depthOf(a));
}

/** Manifest paths as they land under deployDir; "." and duplicates dropped, anything escaping deployDir refused. */
function normalizeManifest(paths: readonly string[]): string[] {
  const onlyDots = (p: string) => p.split('/').every((segment) => segment === '' || segment === '.');
  const manifest = [...new Set(paths.filter((p) => !onlyDots(p)).map(normalizeManifestPath))];
  for (const path of manifest) if (/[\n\r]/.test(path)) throw new TypeError(`unsafe path in package manifest: ${JSON.stringify(path)}`);
  return manifest;
}

export function requireAbsolute(deployDir: string): void {
  if (!deployDir.startsWith('/')) throw new Error(`deploy directory must be an absolute path: ${JSON.stringify(deployDir)}`);
}

function requireSha256(sha256: string): void {
  if (!/^[0-9a-f]{64}$/i.test(sha256)) throw new Error(`invalid package checksum: ${JSON.stringify(sha256)}`);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
