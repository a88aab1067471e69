// Per-host publish and rollback, one small step per function: upload (or verify a package a relay staged) -> snapshot
// -> extract -> hooks -> cleanup, and rollback from snapshots, newest first. Targets need only POSIX sh, tar, sha256sum and find.
import { hookLabel, runHookChain, runRemoteHook, type HookSpec } from './hooks.ts';
import {
  ancestorsOf,
  depthOf,
  ferryLayout,
  fromNulList,
  jobFiles,
  normalizeManifestPath,
  readRemoteFile,
  reasonFrom,
  runChecked,
  shq,
  toNulList,
  writeRemoteFile,
} from './remote.ts';
import type { RemoteSession } from './types.ts';

/** The stages of a publish on one host, in order; `done` is reached only on success. A staged package skips `uploading`. */
export const PUBLISH_PHASES = ['uploading', 'verifying', 'snapshot', 'extracting', 'hooks', 'cleanup', 'done'] as const;
export type PublishPhase = (typeof PUBLISH_PHASES)[number];

export const ROLLBACK_PHASES = ['checking', 'restoring', 'done'] as const;
export type RollbackPhase = (typeof ROLLBACK_PHASES)[number];

export const DEFAULT_KEEP_SNAPSHOTS = 5;
/** Limit for one tar / sha256sum run on a target; generous because packages can be large. */
const DEFAULT_STEP_TIMEOUT_MS = 30 * 60_000;

type OutputListener = (chunk: string, stream: 'stdout' | 'stderr') => void;

export interface PublishOptions {
  session: RemoteSession;
  /** Absolute path on the target. */
  deployDir: string;
  jobId: number;
  /** Local path of the package (tar.gz). */
  packagePath: string;
  /**
   * The package is already in `incoming/<job>.tar.gz.part` on the target (a relay copied it there): check its sha256
   * and move it into place instead of uploading (phase `verifying`). `packagePath` is then not read.
   */
  staged?: boolean;
  packageSha256: string;
  /** Every path in the package, relative to its root (as `tar t` lists them). */
  manifestPaths: readonly string[];
  onPhase?: (phase: PublishPhase) => void;
  onOutput?: OutputListener;
  onUploadProgress?: (sent: number, total: number) => void;
  /** Called as soon as the snapshot is safely on the target, so the caller can persist `snapshotTaken` at once. */
  onSnapshotTaken?: () => void | Promise<void>;
  hooks?: { afterPublish?: readonly HookSpec[] };
  /** FERRY_* variables for hooks; FERRY_FILES is added here. */
  hookEnv?: Record<string, string>;
  /** Snapshots to keep on the host (newest by job id), at least 1. */
  keepSnapshots?: number;
  /** A snapshot that pruning must never delete (the newest successful publish). */
  protectJobId?: number | null;
  stepTimeoutMs?: number;
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
}

/** Publishes one package to one host. Never rejects: failures come back as `ok: false` with a plain reason. */
export async function publishToHost(opts: PublishOptions): Promise<PublishResult> {
  const { session, deployDir, jobId } = opts;
  const timeoutMs = opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  let phase: PublishPhase = opts.staged ? 'verifying' : 'uploading';
  let snapshotTaken = false;
  const warnings: string[] = [];
  const enter = (next: PublishPhase) => {
    phase = next;
    opts.onPhase?.(next);
  };
  const failed = (error: string, extra: Partial<PublishResult> = {}): PublishResult => ({ ok: false, phase, snapshotTaken, restored: false, error, warnings, ...extra });

  try {
    requireAbsolute(deployDir);
    const manifest = normalizeManifest(opts.manifestPaths);

    if (opts.staged) {
      enter('verifying');
      await acceptPackage(session, deployDir, jobId, opts.packageSha256, { timeoutMs, copiedBy: 'the relay' });
    } else {
      enter('uploading');
      await uploadPackage(session, deployDir, jobId, opts.packagePath, opts.packageSha256, { onProgress: opts.onUploadProgress, timeoutMs });
    }

    enter('snapshot');
    await takeSnapshot(session, deployDir, jobId, manifest, { timeoutMs });
    snapshotTaken = true;
    // Awaited: the caller records the snapshot durably before anything is extracted, so a crash right after
    // still leaves a job that knows this host can be rolled back.
    await opts.onSnapshotTaken?.();

    enter('extracting');
    const extraction = await extractPackage(session, deployDir, jobId, { timeoutMs, onOutput: opts.onOutput });
    if (!extraction.ok) {
      const restoreError = await restoreSnapshot(session, deployDir, jobId, { timeoutMs, onOutput: opts.onOutput }).then(
        () => null,
        (err: unknown) => messageOf(err),
      );
      await removeIncomingPackage(session, deployDir, jobId).catch(() => undefined);
      return restoreError === null
        ? failed(`extracting the package failed: ${extraction.reason} — the previous files were restored from the snapshot`, { restored: true })
        : failed(`extracting the package failed: ${extraction.reason} — restoring the snapshot also failed: ${restoreError}`);
    }

    const afterPublish = opts.hooks?.afterPublish ?? [];
    if (afterPublish.length > 0) {
      enter('hooks');
      const hooks = await runAfterPublishHooks(session, deployDir, jobId, afterPublish, opts.hookEnv ?? {}, opts.onOutput);
      if (!hooks.ok) {
        await removeIncomingPackage(session, deployDir, jobId).catch(() => undefined);
        const label = hooks.failedHook ? hookLabel(hooks.failedHook) : 'after-publish';
        const why = hooks.timedOut ? 'timed out' : `exited with code ${hooks.exitCode}`;
        return failed(`after-publish hook "${label}" ${why}`, { exitCode: hooks.exitCode, hookOutput: hooks.output });
      }
    }

    enter('cleanup');
    await removeIncomingPackage(session, deployDir, jobId).catch((err: unknown) => warnings.push(messageOf(err)));
    await pruneSnapshots(session, deployDir, { keep: opts.keepSnapshots ?? DEFAULT_KEEP_SNAPSHOTS, protectJobId: opts.protectJobId ?? null }).catch((err: unknown) =>
      warnings.push(messageOf(err)),
    );
    enter('done');
    return { ok: true, phase, snapshotTaken, restored: false, warnings };
  } catch (err) {
    return failed(messageOf(err));
  }
}

/**
 * Step 1: upload to `incoming/<job>.tar.gz.part`, check its sha256 on the target, then rename it.
 * A corrupt or interrupted upload fails here, before anything in deployDir changed.
 */
export async function uploadPackage(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  packagePath: string,
  expectedSha256: string,
  opts: { onProgress?: (sent: number, total: number) => void; timeoutMs?: number } = {},
): Promise<void> {
  requireSha256(expectedSha256);
  const layout = ferryLayout(deployDir);
  const files = jobFiles(deployDir, jobId);
  await runChecked(session, `mkdir -p -- ${shq(layout.incoming)} ${shq(layout.snapshots)} ${shq(layout.journal)}`, 'creating the .ferry directories');
  await session.upload(packagePath, files.packagePart, { mode: 0o600, onProgress: opts.onProgress });
  await acceptPackage(session, deployDir, jobId, expectedSha256, { timeoutMs: opts.timeoutMs });
}

/**
 * Step 1b: check the sha256 of `incoming/<job>.tar.gz.part` (uploaded by Ferry or copied by a relay), then rename it.
 * A damaged package is removed and fails here, before anything in deployDir changed.
 */
export async function acceptPackage(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  expectedSha256: string,
  opts: { timeoutMs?: number; copiedBy?: string } = {},
): Promise<void> {
  requireSha256(expectedSha256);
  const files = jobFiles(deployDir, jobId);
  const what = opts.copiedBy ? `the package copied by ${opts.copiedBy}` : 'the uploaded package';
  const { stdout } = await runChecked(session, `sha256sum < ${shq(files.packagePart)}`, `checking ${what}`, { timeoutMs: opts.timeoutMs });
  const actual = stdout.trim().split(/\s+/)[0] ?? '';
  if (actual.toLowerCase() !== expectedSha256.toLowerCase()) {
    await session.exec(`rm -f -- ${shq(files.packagePart)}`).catch(() => undefined);
    throw new Error(`${what} is damaged (sha256 ${actual.slice(0, 12)}…, expected ${expectedSha256.slice(0, 12)}…); nothing was changed`);
  }
  await runChecked(session, `mv -f -- ${shq(files.packagePart)} ${shq(files.package)}`, `moving ${what} into place`);
}

function requireSha256(sha256: string): void {
  if (!/^[0-9a-f]{64}$/i.test(sha256)) throw new Error(`invalid package checksum: ${JSON.stringify(sha256)}`);
}

/**
 * Step 2: save what the package will overwrite. `snapshots/<job>.tar.gz` holds the current bytes and modes of every
 * manifest path that exists; `snapshots/<job>.created` lists (NUL-separated) the paths and directories that do not
 * exist yet, so a rollback can remove them. Both are written to temp names and moved; the tar.gz comes last,
 * so its presence means the snapshot is complete.
 */
export async function takeSnapshot(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  manifest: readonly string[],
  opts: { timeoutMs?: number } = {},
): Promise<{ existing: string[]; created: string[] }> {
  const files = jobFiles(deployDir, jobId);
  const inManifest = new Set(manifest);
  const parents = [...new Set(manifest.flatMap(ancestorsOf))].filter((dir) => !inManifest.has(dir));
  const candidates = [...manifest, ...parents];
  const exists = await checkExisting(session, deployDir, candidates);
  const existing = manifest.filter((_, i) => exists[i]);
  const created = deepestFirst(candidates.filter((_, i) => !exists[i]));

  // The list goes to tar on stdin (-T -), NUL-separated: no argv limits, any file name. "./" keeps names off "-".
  await runChecked(
    session,
    `cd -- ${shq(deployDir)} && tar -c -z --no-recursion -f ${shq(files.snapshotTmp)} --null -T -`,
    'writing the snapshot',
    { stdin: toNulList(existing.map((p) => `./${p}`)), timeoutMs: opts.timeoutMs },
  );
  await runChecked(
    session,
    `cat > ${shq(files.createdTmp)} && mv -f -- ${shq(files.createdTmp)} ${shq(files.created)} && mv -f -- ${shq(files.snapshotTmp)} ${shq(files.snapshot)}`,
    'saving the snapshot',
    { stdin: toNulList(created) },
  );
  await writeRemoteFile(session, files.publishedList, manifest.map((p) => `${p}\n`).join(''), 'writing the list of published files');
  return { existing, created };
}

/** Step 3: unpack over deployDir, keeping the package's modes. A failure is a result, so the caller can restore. */
export async function extractPackage(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  opts: { timeoutMs?: number; onOutput?: OutputListener } = {},
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const files = jobFiles(deployDir, jobId);
  // --keep-directory-symlink: a directory that is a symlink on the target (conf -> /etc/game/conf) stays a symlink;
  // GNU tar would otherwise replace it with a real directory holding only the published files.
  const result = await session.exec(`tar -x -z -p --no-same-owner --keep-directory-symlink -f ${shq(files.package)} -C ${shq(deployDir)}`, opts);
  if (result.code === 0) return { ok: true };
  const reason = reasonFrom(result.stderr) || `tar exited with code ${result.code}`;
  // GNU tar reports a full disk only as a short write; say it plainly when the file system is indeed full.
  if (/Wrote only \d+ of \d+ bytes/.test(reason) && (await isDiskFull(session, deployDir))) return { ok: false, reason: `No space left on device (${reason})` };
  return { ok: false, reason };
}

/** True when the file system holding `dir` has (almost) no space left, per `df -P`. Unknown counts as no. */
async function isDiskFull(session: RemoteSession, dir: string): Promise<boolean> {
  const result = await session.exec(`df -P -k -- ${shq(dir)}`).catch(() => null);
  const available = Number(result?.stdout.trim().split('\n')[1]?.trim().split(/\s+/)[3]);
  return result?.code === 0 && Number.isFinite(available) && available < 64;
}

/** Step 4: after-publish hooks, in deployDir, with FERRY_FILES naming the list of published paths on the target. */
export async function runAfterPublishHooks(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  hooks: readonly HookSpec[],
  hookEnv: Record<string, string>,
  onOutput?: OutputListener,
) {
  const env = { ...hookEnv, FERRY_STAGE: 'after-publish', FERRY_FILES: jobFiles(deployDir, jobId).publishedList };
  return runHookChain(hooks, (hook) => runRemoteHook(session, { script: hook.script, cwd: deployDir, env, timeoutMs: hook.timeoutMs, onOutput }));
}

/** Step 5a: the package is no longer needed once extracted. */
export async function removeIncomingPackage(session: RemoteSession, deployDir: string, jobId: number): Promise<void> {
  const files = jobFiles(deployDir, jobId);
  // Also sweeps packages that earlier jobs left behind when their connection dropped mid-upload (a day old or more).
  const incoming = ferryLayout(deployDir).incoming;
  await runChecked(session, `rm -f -- ${shq(files.package)} ${shq(files.packagePart)}; find ${shq(incoming)} -maxdepth 1 -type f -name '*.part' -mtime +0 -exec rm -f -- {} + 2>/dev/null; true`, 'removing the uploaded package');
}

/** Step 5b: keep the newest `keep` snapshots (by job id) and the protected one; returns the job ids removed. */
export async function pruneSnapshots(
  session: RemoteSession,
  deployDir: string,
  opts: { keep: number; protectJobId?: number | null },
): Promise<number[]> {
  const { snapshots } = ferryLayout(deployDir);
  const listing = await runChecked(
    session,
    `cd -- ${shq(snapshots)} && for f in *.tar.gz; do [ -f "$f" ] && printf '%s\\n' "$f"; done; :`,
    'listing snapshots',
  );
  const ids = listing.stdout
    .split('\n')
    .map((line) => /^(\d+)\.tar\.gz$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => b - a);
  const kept = new Set(ids.slice(0, Math.max(1, Math.floor(opts.keep))));
  if (opts.protectJobId !== null && opts.protectJobId !== undefined) kept.add(opts.protectJobId);
  const doomed = ids.filter((id) => !kept.has(id));
  if (doomed.length === 0) return [];
  const paths = doomed.flatMap((id) => {
    const files = jobFiles(deployDir, id);
    return [files.snapshot, files.created, files.publishedList];
  });
  await runChecked(session, `rm -f -- ${paths.map(shq).join(' ')}`, 'removing old snapshots');
  return doomed;
}

export interface RollbackOptions {
  session: RemoteSession;
  deployDir: string;
  /** Jobs to undo; they are undone newest (highest id) first whatever the order given. */
  jobIds: readonly number[];
  onPhase?: (phase: RollbackPhase) => void;
  onOutput?: OutputListener;
  stepTimeoutMs?: number;
}

export interface RollbackResult {
  ok: boolean;
  restoredJobIds: number[];
  error?: string;
}

/** Undoes publishes on one host from their snapshots. Checks every snapshot exists before changing anything. Never rejects. */
export async function rollbackHost(opts: RollbackOptions): Promise<RollbackResult> {
  const { session, deployDir } = opts;
  const jobIds = [...new Set(opts.jobIds)].sort((a, b) => b - a);
  const restoredJobIds: number[] = [];
  try {
    requireAbsolute(deployDir);
    opts.onPhase?.('checking');
    const missing = await missingSnapshots(session, deployDir, jobIds);
    if (missing.length > 0) {
      const what = missing.map((id) => `snapshot of job ${id} is missing on this host`).join('; ');
      return { ok: false, restoredJobIds, error: `${what} — nothing was changed` };
    }
    opts.onPhase?.('restoring');
    for (const jobId of jobIds) {
      await restoreSnapshot(session, deployDir, jobId, { timeoutMs: opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS, onOutput: opts.onOutput });
      restoredJobIds.push(jobId);
    }
    opts.onPhase?.('done');
    return { ok: true, restoredJobIds };
  } catch (err) {
    return { ok: false, restoredJobIds, error: messageOf(err) };
  }
}

/** Job ids whose snapshot (tar.gz + created list) is not on the host. */
export async function missingSnapshots(session: RemoteSession, deployDir: string, jobIds: readonly number[]): Promise<number[]> {
  if (jobIds.length === 0) return [];
  const checks = jobIds.map((id) => {
    const files = jobFiles(deployDir, id);
    return `{ [ -f ${shq(files.snapshot)} ] && [ -f ${shq(files.created)} ]; } || echo ${id}`;
  });
  const result = await runChecked(session, 'sh -s', 'checking snapshots', { stdin: `${checks.join('\n')}\n:\n` });
  return result.stdout.split('\n').filter((line) => /^\d+$/.test(line)).map(Number);
}

/** Puts one job's snapshot back: removes the paths it created (deepest first, directories only if empty), then untars. */
export async function restoreSnapshot(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  opts: { timeoutMs?: number; onOutput?: OutputListener } = {},
): Promise<void> {
  const files = jobFiles(deployDir, jobId);
  const createdList = await readRemoteFile(session, files.created);
  if (createdList === null) throw new Error(`snapshot of job ${jobId} is missing on this host`);
  const created = deepestFirst(fromNulList(createdList).map(normalizeManifestPath));
  // Owners come back too when Ferry logs in as root (no --no-same-owner here, unlike the package).
  const script = [
    `cd -- ${shq(deployDir)} || exit 1`,
    'status=0',
    'drop() {',
    '  if [ -d "$1" ] && [ ! -L "$1" ]; then rmdir -- "$1" 2>/dev/null; return 0; fi',
    '  if [ -e "$1" ] || [ -L "$1" ]; then rm -f -- "$1" || status=1; fi',
    '}',
    ...created.map((p) => `drop ${shq(`./${p}`)}`),
    `tar -x -z -p --keep-directory-symlink -f ${shq(files.snapshot)} -C ${shq(deployDir)} || exit 2`,
    'exit $status',
    '',
  ].join('\n');
  await runChecked(session, 'sh -s', `restoring the snapshot of job ${jobId}`, { stdin: script, timeoutMs: opts.timeoutMs, onOutput: opts.onOutput });
}

/** For each path: does it exist on the target (a dangling symlink counts)? One round trip, script over stdin. */
async function checkExisting(session: RemoteSession, deployDir: string, paths: readonly string[]): Promise<boolean[]> {
  if (paths.length === 0) return [];
  const script = [
    `cd -- ${shq(deployDir)} || exit 1`,
    `e() { if [ -e "$1" ] || [ -L "$1" ]; then echo 1; else echo 0; fi; }`,
    ...paths.map((p) => `e ${shq(`./${p}`)}`),
    '',
  ].join('\n');
  const result = await runChecked(session, 'sh -s', 'looking at the files to be replaced', { stdin: script });
  const answers = result.stdout.split('\n').filter((line) => line === '0' || line === '1');
  if (answers.length !== paths.length) throw new Error(`checking existing files on ${session.hostName} gave ${answers.length} answers for ${paths.length} paths`);
  return answers.map((line) => line === '1');
}

/** Manifest paths as they land under deployDir; "." and duplicates dropped, anything escaping deployDir refused. */
function normalizeManifest(paths: readonly string[]): string[] {
  const onlyDots = (p: string) => p.split('/').every((segment) => segment === '' || segment === '.');
  return [...new Set(paths.filter((p) => !onlyDots(p)).map(normalizeManifestPath))];
}

function deepestFirst(paths: readonly string[]): string[] {
  return [...paths].sort((a, b) => depthOf(b) - depthOf(a));
}

function requireAbsolute(deployDir: string): void {
  if (!deployDir.startsWith('/')) throw new Error(`deploy directory must be an absolute path: ${JSON.stringify(deployDir)}`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
