// The release programs: each publish and each rollback on a host is ONE remote command (every command costs a login
// shell on the target, ~0.1–0.3 s on real servers with a busy .bashrc, plus a round trip), composed here from the
// steps in steps/, in order. Targets need only POSIX sh, GNU coreutils (head -c reads exactly what it is asked to
// from a pipe), tar, gzip, awk and find. The program text travels as the command itself (`sh -c`); paths in it are
// quoted, and the package and the lists come on stdin (protocol.ts).
import { ferryDirGuardLines, ferryLayout, jobFiles, linkGuardLines, shq } from '../remote.ts';
import { EXIT, MARK } from './protocol.ts';
import { driftLines, headerLines } from './steps/drift.ts';
import { extractLines } from './steps/extract.ts';
import { pruneLines, type PruneOptions } from './steps/prune.ts';
import { receiveLines } from './steps/receive.ts';
import { restoreFunctionLines } from './steps/restore.ts';
import { snapshotLines } from './steps/snapshot.ts';
import { verifyLines } from './steps/verify.ts';

/** Shell variables every program sets first: the deploy directory and Ferry's directories under it. */
function layoutLines(deployDir: string): string[] {
  const layout = ferryLayout(deployDir);
  return [
    // A host whose output Ferry no longer reads (Ferry stopped) still finishes what it started instead of dying
    // halfway at its next progress line; nothing it does after the go-ahead depends on Ferry.
    "trap '' PIPE",
    `deploy=${shq(deployDir)}`,
    `incoming=${shq(layout.incoming)} snapshots=${shq(layout.snapshots)} journal=${shq(layout.journal)}`,
  ];
}

/** The one command that checks for hand edits, receives, verifies, snapshots, extracts and prunes a package on a host. */
export function publishProgram(deployDir: string, jobId: number, prune: PruneOptions): string {
  const files = jobFiles(deployDir, jobId);
  return [
    ...layoutLines(deployDir),
    `job=${jobId}`,
    `part=${shq(files.packagePart)} lists=${shq(`${files.package}.lists`)}`,
    // The package is extracted where it arrived (a rename would cost a process on every host).
    'pkg=$part',
    `snap=${shq(files.snapshot)} snap_tmp=${shq(files.snapshotTmp)} created=${shq(files.created)} snap_pending=`,
    `journal_file=${shq(files.publishedList)}`,
    `existing=${shq(`${files.snapshotTmp}.list`)} candidates=${shq(`${files.package}.candidates`)} records=${shq(`${files.package}.records`)} sums=${shq(`${files.package}.sums`)}`,
    `sum_file=${shq(`${files.packagePart}.sha256`)} tee_status=${shq(`${files.packagePart}.tee`)} recv_status=${shq(`${files.packagePart}.recv`)}`,
    // First of all: nothing may be read, moved, written or deleted through a linked or foreign .ferry directory.
    ...ferryDirGuardLines(deployDir),
    `trap 'rm -f -- "$part" "$sum_file" "$tee_status" "$recv_status" "$lists" "$candidates" "$records" "$sums" "$existing" "$snap_tmp" \${snap_pending:+"$created" "$journal_file"}' EXIT`,
    // Every process counts (each host, each publish): mkdir only when a directory is missing.
    `[ -d "$incoming" ] && [ -d "$snapshots" ] && [ -d "$journal" ] || mkdir -p -- "$incoming" "$snapshots" "$journal" || exit ${EXIT.creatingDirs}`,
    // Ferry's own files (the package, its lists, the snapshot) are the login user's alone; extract.ts puts the
    // login's umask back for the release itself.
    'ferry_umask=$(umask)',
    'umask 077',
    ...headerLines(),
    ...driftLines(),
    ...receiveLines(),
    ...verifyLines(),
    ...snapshotLines(),
    ...restoreFunctionLines(),
    ...extractLines(),
    ...pruneLines(prune),
    `printf '${MARK}done\\n'`,
    'exit 0',
  ].join('\n');
}

/**
 * The one command of a rollback: checks every snapshot is there and no directory it would touch is a link out of the
 * deploy directory (changing nothing if not), then restores the jobs in the order given, printing `restored <id>`
 * after each.
 */
export function rollbackProgram(deployDir: string, jobIds: readonly number[]): string {
  for (const id of jobIds) jobFiles(deployDir, id);
  const ids = jobIds.join(' ');
  return [
    ...layoutLines(deployDir),
    ...ferryDirGuardLines(deployDir),
    `printf '${MARK}phase checking\\n'`,
    'missing=',
    `for id in ${ids}; do { [ -f "$snapshots/$id.tar.gz" ] && [ -f "$snapshots/$id.created" ]; } || missing="$missing $id"; done`,
    `[ -z "$missing" ] || { printf '${MARK}missing%s\\n' "$missing"; exit ${EXIT.snapshotsMissing}; }`,
    `cd -- "$deploy" || exit ${EXIT.noDeployDir}`,
    ...linkGuardLines(),
    `for id in ${ids}; do guard_list "$journal/$id.files"; done`,
    ...restoreFunctionLines(),
    `printf '${MARK}phase restoring\\n'`,
    `for id in ${ids}; do ( restore_job "$id" ); st=$?; [ "$st" -eq 0 ] || exit "$st"; printf '${MARK}restored %s\\n' "$id"; done`,
    'exit 0',
  ].join('\n');
}

/** The command line that runs a program: the login shell only starts `sh`, whatever shell it is. */
export function programCommand(program: string): string {
  return `exec sh -c ${shq(program)} ferry`;
}
