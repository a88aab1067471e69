// Step "restore", shared by a failed extraction and by rollback: remove the paths a job created (deepest first,
// directories only if empty), then untar its snapshot. The rwx bits come back, never owners nor setuid/setgid/sticky
// bits (named in a warning instead): a snapshot is a file on the host, and restoring it must not plant a setuid
// program, whoever managed to write it. First it checks that no directory it deletes or writes under is a link out of
// the deploy directory (the job's journal lists every published path, so its directories cover all the restore
// touches; the created list's are checked too, in case the journal is gone).
import { MARK } from '../protocol.ts';

/**
 * Defines `restore_job ID`, meant to run in a subshell: exit 1 no deploy directory or created list, 2 tar failed,
 * OUTSIDE_LINK_EXIT such a link, else whether every created path could be removed. Needs $deploy, $snapshots,
 * $journal and the guard functions (linkGuardLines).
 */
export function restoreFunctionLines(): string[] {
  return [
    'drop() {',
    '  if [ -d "$1" ] && [ ! -L "$1" ]; then rmdir -- "$1" 2>/dev/null; return 0; fi',
    '  if [ -e "$1" ] || [ -L "$1" ]; then rm -f -- "$1" || status=1; fi',
    '}',
    'restore_job() {',
    '  r_snap=$snapshots/$1.tar.gz r_created=$snapshots/$1.created',
    '  cd -- "$deploy" || exit 1',
    '  [ -f "$r_created" ] || exit 1',
    '  guard_list "$journal/$1.files"',
    // Nothing is written to the disk on the way (the restore after a full disk must work): the created list, NUL-separated
    // (also in lists written by earlier versions of Ferry), is read through tr each time.
    `  tr '\\000' '\\n' < "$r_created" | guard_lines || exit $?`,
    `  tr '\\000' '\\n' < "$r_created" | { status=0; while IFS= read -r p; do [ -n "$p" ] && drop "./$p"; done; exit $status; }`,
    '  status=$?',
    // tar -tv lists modes as ls does: an s/S/t/T in an execute column is a setuid, setgid or sticky bit.
    `  tar -t -v -z -f "$r_snap" 2>/dev/null | grep -E '^.(..[sS]|.{5}[sS]|.{8}[tT])' | head -n 20 | sed 's/^/${MARK} setuid, setgid or sticky bits are not restored by a rollback: /' >&2`,
    // umask 0 with --no-same-permissions: every rwx bit of the snapshot comes back, setuid/setgid/sticky never do.
    '  ( umask 000 && exec tar -x -z --no-same-permissions --no-same-owner --keep-directory-symlink -f "$r_snap" -C "$deploy" ) || exit 2',
    '  exit $status',
    '}',
  ];
}
