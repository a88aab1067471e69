// Per-host publish and rollback: upload (or use a package a relay staged) -> verify + snapshot -> extract (restoring the
// snapshot by itself on failure) -> hooks -> cleanup + prune, each arrow one remote command (every command costs a login
// shell on the target), and rollback from snapshots, newest first. Targets need only POSIX sh, tar, sha256sum and find.
//
// Symbolic links: every script checks, with the paths resolved on the host, that no directory it writes, snapshots or
// deletes under is a link leading outside the deploy directory (or into .ferry), and fails the host before changing
// anything when one is (linkGuardLines). The package itself holds only links that stay inside (pack.ts refuses others).
// Ferry's own .ferry directories must be real directories of the login user: the upload lstats them over SFTP first,
// and every script starts by checking them (ferryDirGuardLines). Rollbacks restore modes but never owners or
// setuid/setgid/sticky bits.
import { hookLabel, runHookChain, runRemoteHook, type HookSpec } from './hooks.ts';
import {
  ancestorsOf,
  depthOf,
  ferryDirError,
  ferryDirGuardLines,
  ferryLayout,
  fromNulList,
  jobFiles,
  linkGuardCalls,
  linkGuardLines,
  normalizeManifestPath,
  outsideLinkError,
  readRemoteFile,
  reasonFrom,
  refusalOf,
  RemoteCommandError,
  shq,
  withoutOutsideRecords,
} from './remote.ts';
import type { RemoteSession } from './types.ts';
import { MAINTENANCE_COMMAND_TIMEOUT_MS } from '../config.ts';

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
  /** Snapshots of other projects sharing this deploy directory: pruning neither counts nor deletes them. */
  foreignJobIds?: readonly number[];
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
    requireSha256(opts.packageSha256);
    const manifest = normalizeManifest(opts.manifestPaths);

    if (opts.staged) {
      enter('verifying');
    } else {
      enter('uploading');
      await uploadPackage(session, deployDir, jobId, opts.packagePath, { onProgress: opts.onUploadProgress });
    }

    // One command checks the sha256, moves the package into place and takes the snapshot; `snapshot` is entered as
    // soon as the target reports the package good, so a damaged package still fails in `uploading`/`verifying`.
    let verified = false;
    const onVerified = () => {
      if (verified) return;
      verified = true;
      enter('snapshot');
    };
    const snapshot = await verifyAndSnapshot(session, deployDir, jobId, opts.packageSha256, manifest, {
      timeoutMs,
      copiedBy: opts.staged ? 'the relay' : undefined,
      onVerified,
    });
    onVerified();
    snapshotTaken = true;
    // Awaited: the caller records the snapshot durably before anything is extracted, so a crash right after
    // still leaves a job that knows this host can be rolled back.
    await opts.onSnapshotTaken?.();

    enter('extracting');
    const extraction = await extractPackage(session, deployDir, jobId, snapshot.created, { timeoutMs, onOutput: opts.onOutput, manifest });
    if (!extraction.ok) {
      return extraction.restoreError === null
        ? failed(`extracting the package failed: ${extraction.reason} — the previous files were restored from the snapshot`, { restored: true })
        : failed(`extracting the package failed: ${extraction.reason} — restoring the snapshot also failed: ${extraction.restoreError}`);
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
    warnings.push(...(await cleanUpAfterPublish(session, deployDir, jobId, { keep: opts.keepSnapshots ?? DEFAULT_KEEP_SNAPSHOTS, protectJobId: opts.protectJobId ?? null, foreignJobIds: opts.foreignJobIds ?? [] })));
    enter('done');
    return { ok: true, phase, snapshotTaken, restored: false, warnings };
  } catch (err) {
    if (err instanceof SnapshotDroppedError) snapshotTaken = false;
    return failed(messageOf(err));
  }
}

/** Prefix of the lines Ferry's own target-side scripts print on stdout to report progress. */
const MARK = 'ferry:';
/** Printed by the extraction script when it refused before tar and removed the job's snapshot and journal. */
const SNAPSHOT_DROPPED = `${MARK}snapshot-dropped`;

/** Extraction refused before writing anything and removed the job's snapshot: the host has nothing to roll back. */
class SnapshotDroppedError extends Error {}

/**
 * Step 1: upload to `incoming/<job>.tar.gz.part` over SFTP. The .ferry directories normally exist from earlier
 * publishes, so they are created (one extra command) only when the upload finds them missing.
 */
export async function uploadPackage(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  packagePath: string,
  opts: { onProgress?: (sent: number, total: number) => void } = {},
): Promise<void> {
  const files = jobFiles(deployDir, jobId);
  await refuseLinkedUploadPath(session, deployDir, files.packagePart);
  const upload = () => session.upload(packagePath, files.packagePart, { mode: 0o600, onProgress: opts.onProgress });
  try {
    await upload();
    return;
  } catch (err) {
    if (!isMissingDirectory(err)) throw err;
  }
  const layout = ferryLayout(deployDir);
  await runGuardedScript(session, [...ferryDirGuardLines(deployDir), `mkdir -p -- ${shq(layout.incoming)} ${shq(layout.snapshots)} ${shq(layout.journal)}`], 'creating the .ferry directories');
  await upload();
}

/** Runs a script that starts with a link guard: a refusal becomes its plain error, any other failure a RemoteCommandError. */
async function runGuardedScript(session: RemoteSession, lines: string[], what: string): Promise<void> {
  const result = await session.exec('sh -s', { stdin: [...lines, ''].join('\n') });
  if (result.code === 0) return;
  const refused = refusalOf(result, session.hostName);
  if (refused) throw new Error(refused);
  throw new RemoteCommandError(`${what} failed on ${session.hostName}: ${reasonFrom(result.stderr) || `exit code ${result.code}`}`, session.hostName, result.code, result.stderr);
}

/**
 * Before the SFTP upload writes anything (lstat over the open SFTP channel, no login shell): `.ferry`, `.ferry/incoming`
 * and the `.part` file itself must not be symbolic links. Owners are checked by the first shell command, before the
 * package is moved or anything is snapshotted (SFTP cannot tell which uid the login user has).
 */
async function refuseLinkedUploadPath(session: RemoteSession, deployDir: string, packagePart: string): Promise<void> {
  if (!session.inspect) return;
  const { root, incoming } = ferryLayout(deployDir);
  const named = [
    { name: '.ferry', path: root },
    { name: '.ferry/incoming', path: incoming },
    { name: `.ferry/incoming/${packagePart.slice(incoming.length + 1)}`, path: packagePart },
  ];
  const infos = await Promise.all(named.map(({ path }) => session.inspect!(path)));
  named.forEach(({ name }, i) => {
    const info = infos[i];
    if (info?.type === 'symlink') throw new Error(ferryDirError(name, session.hostName, { link: info.link ?? '?' }));
  });
}

/** An SFTP "no such file" for the file being created: its directory does not exist (a lost connection never is). */
function isMissingDirectory(err: unknown): boolean {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 2 || /no such file/i.test(messageOf(err));
}

/** What each exit code of the verify-and-snapshot script means, in the words the separate steps used. */
const SNAPSHOT_STEPS: Record<number, string> = {
  10: 'checking {what}',
  12: 'moving {what} into place',
  13: 'creating the .ferry directories',
  14: 'looking at the files to be replaced',
  15: 'writing the snapshot',
  16: 'writing the list of published files',
  17: 'saving the snapshot',
};
const DAMAGED_EXIT = 11;

/**
 * Steps 1b and 2, one command on the target. First the sha256 of `incoming/<job>.tar.gz.part` (uploaded by Ferry or
 * copied by a relay) is checked: a damaged package is removed and fails here, before anything in deployDir changed;
 * a good one is renamed into place. Then the snapshot saves what the package will overwrite: `snapshots/<job>.tar.gz`
 * holds the current bytes and modes of every manifest path that exists; `snapshots/<job>.created` lists
 * (NUL-separated) the paths and directories that do not exist yet, so a rollback can remove them; `journal/<job>.files`
 * lists the manifest. All are written to temp names and moved; the tar.gz comes last, so its presence means the
 * snapshot is complete. Paths travel inside the script on stdin (quoted), never in argv.
 */
export async function verifyAndSnapshot(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  expectedSha256: string,
  manifest: readonly string[],
  opts: { timeoutMs?: number; copiedBy?: string; onVerified?: () => void } = {},
): Promise<{ existing: string[]; created: string[] }> {
  requireSha256(expectedSha256);
  const files = jobFiles(deployDir, jobId);
  const layout = ferryLayout(deployDir);
  const what = opts.copiedBy ? `the package copied by ${opts.copiedBy}` : 'the uploaded package';
  const inManifest = new Set(manifest);
  const parents = [...new Set(manifest.flatMap(ancestorsOf))].filter((dir) => !inManifest.has(dir));
  // Deepest first, so the created list on the target is already in removal order.
  const candidates = deepestFirst([...manifest, ...parents]);
  const existingList = `${files.snapshotTmp}.list`;
  const journalTmp = `${files.publishedList}.tmp`;
  const temps = [existingList, files.snapshotTmp, files.createdTmp, journalTmp].map(shq).join(' ');

  const journalLines: string[] = [];
  for (let i = 0; i < manifest.length; i += 200) journalLines.push(`  printf '%s\\n' ${manifest.slice(i, i + 200).map(shq).join(' ')} || exit 16`);
  const script = [
    `part=${shq(files.packagePart)}`,
    // First of all: nothing below may be read, moved, written or deleted through a linked or foreign .ferry directory.
    ...ferryDirGuardLines(deployDir),
    `trap ${shq(`rm -f -- ${temps}`)} EXIT`,
    'sum=$(sha256sum < "$part") || exit 10',
    'sum=${sum%% *}',
    `if [ "$sum" != ${shq(expectedSha256.toLowerCase())} ]; then rm -f -- "$part"; printf '${MARK}sha256 %s\\n' "$sum"; exit ${DAMAGED_EXIT}; fi`,
    `mv -f -- "$part" ${shq(files.package)} || exit 12`,
    `printf '${MARK}verified\\n'`,
    `mkdir -p -- ${shq(layout.snapshots)} ${shq(layout.journal)} || exit 13`,
    `cd -- ${shq(deployDir)} || exit 14`,
    // Before the snapshot reads anything: no path of the package may lie behind a link out of the deploy directory.
    ...linkGuardLines(`rm -f -- ${shq(files.package)}`),
    ...linkGuardCalls(manifest),
    `exec 3> ${shq(existingList)} 4> ${shq(files.createdTmp)} || exit 14`,
    // m: a manifest path (snapshotted when it exists); p: a parent directory (its own entry snapshotted when it
    // exists, so extraction changing its mode can be undone; recorded as created when it does not).
    // A dangling symlink counts as existing. "./" keeps names off "-". One answer line per path, in order.
    `m() { if [ -e "./$1" ] || [ -L "./$1" ]; then echo 1; printf '%s\\000' "./$1" >&3; else echo 0; printf '%s\\000' "$1" >&4; fi; }`,
    `p() { if [ -e "./$1" ] || [ -L "./$1" ]; then echo 1; printf '%s\\000' "./$1" >&3; else echo 0; printf '%s\\000' "$1" >&4; fi; }`,
    ...candidates.map((path) => `${inManifest.has(path) ? 'm' : 'p'} ${shq(path)}`),
    'exec 3>&- 4>&-',
    `tar -c -z --no-recursion -f ${shq(files.snapshotTmp)} --null -T ${shq(existingList)} || exit 15`,
    `{`,
    '  :',
    ...journalLines,
    `} > ${shq(journalTmp)} || exit 16`,
    `mv -f -- ${shq(journalTmp)} ${shq(files.publishedList)} || exit 16`,
    `mv -f -- ${shq(files.createdTmp)} ${shq(files.created)} || exit 17`,
    `mv -f -- ${shq(files.snapshotTmp)} ${shq(files.snapshot)} || exit 17`,
    'exit 0',
    '',
  ].join('\n');

  let seen = '';
  let verified = false;
  const result = await session.exec('sh -s', {
    stdin: script,
    timeoutMs: opts.timeoutMs,
    onOutput: (chunk, stream) => {
      if (verified || stream !== 'stdout') return;
      // Only the tail that could hold the start of the marker is kept: a host printing without end costs nothing.
      const marker = `${MARK}verified\n`;
      seen += chunk;
      if (seen.includes(marker)) {
        verified = true;
        seen = '';
        opts.onVerified?.();
      } else {
        seen = seen.slice(-marker.length);
      }
    },
  });
  const lines = result.stdout.split('\n');
  if (!verified && lines.includes(`${MARK}verified`)) opts.onVerified?.();
  const outside = refusalOf(result, session.hostName);
  if (outside) throw new Error(outside);
  if (result.code === DAMAGED_EXIT) {
    const actual = lines.find((line) => line.startsWith(`${MARK}sha256 `))?.slice(`${MARK}sha256 `.length) ?? '';
    throw new Error(`${what} is damaged (sha256 ${actual.slice(0, 12)}…, expected ${expectedSha256.slice(0, 12)}…); nothing was changed`);
  }
  if (result.code !== 0) {
    const step = (SNAPSHOT_STEPS[result.code] ?? 'taking the snapshot').replace('{what}', what);
    const reason = reasonFrom(result.stderr) || `exit code ${result.code}`;
    throw new RemoteCommandError(`${step} failed on ${session.hostName}: ${reason}`, session.hostName, result.code, result.stderr);
  }
  const answers = lines.filter((line) => line === '0' || line === '1');
  if (answers.length !== candidates.length) throw new Error(`checking existing files on ${session.hostName} gave ${answers.length} answers for ${candidates.length} paths`);
  const exists = new Set(candidates.filter((_, i) => answers[i] === '1'));
  return { existing: manifest.filter((path) => exists.has(path)), created: candidates.filter((path) => !exists.has(path)) };
}

function requireSha256(sha256: string): void {
  if (!/^[0-9a-f]{64}$/i.test(sha256)) throw new Error(`invalid package checksum: ${JSON.stringify(sha256)}`);
}

/**
 * Step 3, one command on the target: unpack over deployDir, keeping the package's modes. When tar fails, the same
 * script notes how full the disk is, puts the snapshot back (`created` as returned by verifyAndSnapshot) and removes
 * the package. tar's complaints stream live on stderr; the script's own reports are `ferry:` lines on stdout.
 */
export async function extractPackage(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  created: readonly string[],
  opts: { timeoutMs?: number; onOutput?: OutputListener; /** Package paths whose directories are checked for outside links again, right before tar. */ manifest?: readonly string[] } = {},
): Promise<{ ok: true } | { ok: false; reason: string; restoreError: string | null }> {
  const files = jobFiles(deployDir, jobId);
  // Nothing was extracted when this refuses, so the job's snapshot and journal go too: a later rollback must not
  // "restore" a publish that never happened.
  const dropJob = [files.package, files.snapshot, files.created, files.publishedList].map(shq).join(' ');
  const script = [
    ...ferryDirGuardLines(deployDir),
    `cd -- ${shq(deployDir)} || exit 1`,
    // Checked again right before writing: a link may have appeared on the host since the snapshot.
    ...linkGuardLines(`rm -f -- ${dropJob} && printf '${SNAPSHOT_DROPPED}\\n'`),
    ...linkGuardCalls(opts.manifest ?? []),
    // --keep-directory-symlink: a directory that is a symlink on the target (conf -> shared/conf) stays a symlink; GNU
    // tar would otherwise replace it with a real directory holding only the published files. The guard above has
    // made sure each such link resolves inside the deploy directory. (Without the option GNU tar still follows a link
    // in the middle of a member's path, so dropping it would not stop an escape.) Links that the package itself holds
    // cannot be gone through by its later members: GNU tar creates a link whose target is absolute or has ".." only
    // after everything else, and pack.ts refuses links that leave the release anyway.
    `tar -x -z -p --no-same-owner --keep-directory-symlink -f ${shq(files.package)} -C ${shq(deployDir)} && exit 0`,
    'rc=$?',
    `printf '${MARK}extract-failed %s\\n' "$rc"`,
    // Before the restore frees the space again: GNU tar reports a full disk only as a short write.
    `df -P -k -- ${shq(deployDir)} 2>/dev/null | sed -n '2s/^/${MARK}df /p'`,
    `printf '${MARK}restoring\\n'`,
    '(',
    ...restoreScriptLines(deployDir, jobId, created).map((line) => `  ${line}`),
    ') 2>&1',
    'st=$?',
    `rm -f -- ${shq(files.package)} ${shq(files.packagePart)}`,
    `printf '\\n${MARK}restore-status %s\\n' "$st"`,
    'exit 3',
    '',
  ].join('\n');
  // Room for a long extraction and then a long restore in one command.
  const timeoutMs = opts.timeoutMs === undefined ? undefined : opts.timeoutMs * 2;
  const onOutput = opts.onOutput;
  const result = await session.exec('sh -s', { stdin: script, timeoutMs, onOutput: onOutput && ((chunk, stream) => stream === 'stderr' && onOutput(chunk, stream)) });
  if (result.code === 0) return { ok: true };
  const outside = refusalOf(result, session.hostName);
  if (outside && result.stdout.split('\n').includes(SNAPSHOT_DROPPED)) throw new SnapshotDroppedError(outside);
  if (outside) throw new Error(outside);

  const stdout = result.stdout;
  const failedLine = stdout.split('\n').find((line) => line.startsWith(`${MARK}extract-failed `));
  if (failedLine === undefined) throw new Error(`extracting the package failed on ${session.hostName}: ${reasonFrom(result.stderr) || `exit code ${result.code}`}`);
  const tarCode = failedLine.slice(`${MARK}extract-failed `.length);
  let reason = reasonFrom(result.stderr) || `tar exited with code ${tarCode}`;
  const dfLine = stdout.split('\n').find((line) => line.startsWith(`${MARK}df `));
  const available = Number(dfLine?.slice(`${MARK}df `.length).trim().split(/\s+/)[3]);
  if (/Wrote only \d+ of \d+ bytes/.test(reason) && Number.isFinite(available) && available < 64) reason = `No space left on device (${reason})`;

  const restoringAt = stdout.indexOf(`${MARK}restoring\n`);
  const statusAt = stdout.lastIndexOf(`\n${MARK}restore-status `);
  const restoreOutput = restoringAt >= 0 && statusAt >= restoringAt ? stdout.slice(restoringAt + `${MARK}restoring\n`.length, statusAt) : '';
  const restoreText = withoutOutsideRecords(restoreOutput);
  if (restoreText.trim() !== '') onOutput?.(restoreText.endsWith('\n') ? restoreText : `${restoreText}\n`, 'stderr');
  const restoreCode = statusAt >= 0 ? Number(stdout.slice(statusAt + `\n${MARK}restore-status `.length).trim().split('\n')[0]) : NaN;
  if (restoreCode === 0) return { ok: false, reason, restoreError: null };
  const restoreReason = outsideLinkError(restoreOutput, session.hostName)?.replace(/ — nothing was changed on this host$/, '') || reasonFrom(restoreText) || (Number.isFinite(restoreCode) ? `exit code ${restoreCode}` : `the script ended with exit code ${result.code}`);
  return { ok: false, reason, restoreError: `restoring the snapshot of job ${jobId} failed on ${session.hostName}: ${restoreReason}` };
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

/** Removes the package and sweeps `.part` files that earlier jobs left behind when their connection dropped (a day old or more). */
function removeIncomingLines(deployDir: string, jobId: number): string[] {
  const files = jobFiles(deployDir, jobId);
  const incoming = ferryLayout(deployDir).incoming;
  return [
    `rm -f -- ${shq(files.package)} ${shq(files.packagePart)}`,
    `find ${shq(incoming)} -maxdepth 1 -type f -name '*.part' -mtime +0 -exec rm -f -- {} + 2>/dev/null`,
  ];
}

/** The package is no longer needed (used when hooks failed; a successful publish uses cleanUpAfterPublish). */
export async function removeIncomingPackage(session: RemoteSession, deployDir: string, jobId: number): Promise<void> {
  await runGuardedScript(session, [...ferryDirGuardLines(deployDir), ...removeIncomingLines(deployDir, jobId), 'true'], 'removing the uploaded package');
}

const PRUNE_STEPS: Record<number, string> = { 21: 'listing snapshots', 22: 'removing old snapshots' };

/**
 * Step 5, one command: remove the package (and stale `.part` files), then keep the newest `keep` snapshots (by job
 * id) and the protected one. Problems come back as warnings: the files are published by then.
 */
export async function cleanUpAfterPublish(
  session: RemoteSession,
  deployDir: string,
  jobId: number,
  opts: { keep: number; protectJobId?: number | null; foreignJobIds?: readonly number[] },
): Promise<string[]> {
  const { snapshots, journal } = ferryLayout(deployDir);
  const keep = Math.max(1, Math.floor(opts.keep) || 1);
  const protect = opts.protectJobId ?? null;
  if (protect !== null && (!Number.isSafeInteger(protect) || protect < 0)) throw new TypeError(`invalid job id: ${protect}`);
  const foreign = [...new Set(opts.foreignJobIds ?? [])];
  for (const id of foreign) if (!Number.isSafeInteger(id) || id < 0) throw new TypeError(`invalid job id: ${id}`);
  const script = [
    ...ferryDirGuardLines(deployDir),
    ...removeIncomingLines(deployDir, jobId),
    `cd -- ${shq(snapshots)} || exit 21`,
    `for f in *.tar.gz; do [ -f "$f" ] || continue; id=\${f%.tar.gz}; case $id in ''|*[!0-9]*${foreign.map((id) => `|${id}`).join('')}) continue ;; esac; printf '%s\\n' "$id"; done | sort -r -n | {`,
    '  n=0; st=0',
    '  while IFS= read -r id; do',
    '    n=$((n + 1))',
    `    [ "$n" -le ${keep} ] && continue`,
    ...(protect === null ? [] : [`    [ "$id" -eq ${protect} ] 2>/dev/null && continue`]),
    `    rm -f -- "$id.tar.gz" "$id.created" ${shq(journal)}/"$id.files" || st=22`,
    '  done',
    '  exit $st',
    '}',
    '',
  ].join('\n');
  try {
    const result = await session.exec('sh -s', { stdin: script, timeoutMs: MAINTENANCE_COMMAND_TIMEOUT_MS });
    if (result.code === 0) return [];
    const refused = refusalOf(result, session.hostName);
    if (refused) return [`cleaning up skipped: ${refused.replace(/ — nothing was changed on this host$/, '')}`];
    const step = PRUNE_STEPS[result.code] ?? 'cleaning up';
    return [`${step} failed on ${session.hostName}: ${reasonFrom(result.stderr) || reasonFrom(result.stdout) || `exit code ${result.code}`}`];
  } catch (err) {
    return [messageOf(err)];
  }
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
    const check = await checkRollback(session, deployDir, jobIds);
    if (check.missing.length > 0) {
      const what = check.missing.map((id) => `snapshot of job ${id} is missing on this host`).join('; ');
      return { ok: false, restoredJobIds, error: `${what} — nothing was changed` };
    }
    if (check.outsideLink) return { ok: false, restoredJobIds, error: check.outsideLink };
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

/**
 * The rollback's `checking` phase, one command: which snapshots are missing, and whether any directory the restores
 * would delete or write under is a link leading outside the deploy directory (the first such, as a plain error).
 * Every path a restore touches is a published path or one of its directories, so the jobs' journals cover them all.
 */
export async function checkRollback(session: RemoteSession, deployDir: string, jobIds: readonly number[]): Promise<{ missing: number[]; outsideLink: string | null }> {
  if (jobIds.length === 0) return { missing: [], outsideLink: null };
  const checks = jobIds.map((id) => {
    const files = jobFiles(deployDir, id);
    return `{ [ -f ${shq(files.snapshot)} ] && [ -f ${shq(files.created)} ]; } || echo ${id}`;
  });
  const script = [
    ...ferryDirGuardLines(deployDir),
    ...checks,
    `cd -- ${shq(deployDir)} 2>/dev/null || exit 0`,
    ...linkGuardLines(),
    ...jobIds.map((id) => `guard_list ${shq(jobFiles(deployDir, id).publishedList)}`),
    'exit 0',
    '',
  ].join('\n');
  const result = await session.exec('sh -s', { stdin: script, timeoutMs: MAINTENANCE_COMMAND_TIMEOUT_MS });
  const outsideLink = refusalOf(result, session.hostName);
  if (result.code !== 0 && !outsideLink) {
    throw new RemoteCommandError(`checking snapshots failed on ${session.hostName}: ${reasonFrom(result.stderr) || `exit code ${result.code}`}`, session.hostName, result.code, result.stderr);
  }
  return { missing: result.stdout.split('\n').filter((line) => /^\d+$/.test(line)).map(Number), outsideLink };
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
  const script = [...restoreScriptLines(deployDir, jobId, created), ''].join('\n');
  const onOutput = opts.onOutput;
  const result = await session.exec('sh -s', { stdin: script, timeoutMs: opts.timeoutMs, onOutput: onOutput && ((chunk, stream) => stream === 'stderr' && onOutput(chunk, stream)) });
  if (result.code === 0) return;
  const outside = refusalOf(result, session.hostName);
  if (outside) throw new Error(outside.replace('nothing was changed on this host', `the snapshot of job ${jobId} was not restored`));
  const reason = reasonFrom(result.stderr) || reasonFrom(result.stdout) || `exit code ${result.code}`;
  throw new RemoteCommandError(`restoring the snapshot of job ${jobId} failed on ${session.hostName}: ${reason}`, session.hostName, result.code, result.stderr);
}

/**
 * A script (run in a subshell by extraction) that removes the paths a job created (deepest first, directories only if
 * empty), then untars its snapshot. The snapshot's rwx bits come back, but never its owners (files belong to the login
 * user, as after a publish) nor setuid/setgid/sticky bits, which are named in a warning instead: a snapshot is a file
 * on the host, and restoring it must not be a way to plant a setuid program, whoever managed to write it. First it checks that no directory it deletes or writes under is a link out of the deploy directory
 * (the job's journal lists every published path, so its directories cover all the restore touches; the
 * directories of `created` are checked as well, in case the journal is gone). Exit 1: no
 * deployDir, 2: tar failed, OUTSIDE_LINK_EXIT: such a link, else whether every created path could be removed.
 */
function restoreScriptLines(deployDir: string, jobId: number, created: readonly string[]): string[] {
  const files = jobFiles(deployDir, jobId);
  return [
    ...ferryDirGuardLines(deployDir),
    `cd -- ${shq(deployDir)} || exit 1`,
    ...linkGuardLines(),
    `guard_list ${shq(files.publishedList)}`,
    ...linkGuardCalls(created),
    'status=0',
    'drop() {',
    '  if [ -d "$1" ] && [ ! -L "$1" ]; then rmdir -- "$1" 2>/dev/null; return 0; fi',
    '  if [ -e "$1" ] || [ -L "$1" ]; then rm -f -- "$1" || status=1; fi',
    '}',
    ...created.map((p) => `drop ${shq(`./${p}`)}`),
    // tar -tv lists modes as ls does: an s/S/t/T in an execute column is a setuid, setgid or sticky bit.
    `tar -t -v -z -f ${shq(files.snapshot)} 2>/dev/null | grep -E '^.(..[sS]|.{5}[sS]|.{8}[tT])' | head -n 20 | sed 's/^/${MARK} setuid, setgid or sticky bits are not restored by a rollback: /' >&2`,
    // umask 0 with --no-same-permissions: every rwx bit of the snapshot comes back, setuid/setgid/sticky never do.
    `( umask 000 && exec tar -x -z --no-same-permissions --no-same-owner --keep-directory-symlink -f ${shq(files.snapshot)} -C ${shq(deployDir)} ) || exit 2`,
    'exit $status',
  ];
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
