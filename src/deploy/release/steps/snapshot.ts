// Step "snapshot": before anything is overwritten, save exactly what the package will overwrite. snapshots/<job>.tar.gz
// holds the current bytes and modes of every manifest path (and parent directory) that exists; <job>.created lists,
// NUL-separated and deepest first, those that do not, so a rollback can remove them; journal/<job>.files lists the
// manifest. The tar.gz is written under a temp name and moved last, so its presence means the snapshot is complete
// (until then the program's exit removes the lists too: $snap_pending); rollbacks look for both. Then the host
// waits for Ferry's go-ahead, which Ferry sends once the snapshot is recorded in its database: a crash in between
// leaves a host that changed nothing, never one Ferry does not know it can roll back.
import { linkGuardLines } from '../../remote.ts';
import { EXIT, LIST_SEPARATOR, MARK } from '../protocol.ts';

/** Needs $deploy, $lists, $pkg, $snap, $snap_tmp, $created, $journal_file, $candidates, $existing, $snap_pending. */
export function snapshotLines(): string[] {
  return [
    `printf '${MARK}phase snapshot\\n'`,
    // One awk splits the lists (names through the environment: awk -v would read backslashes as escapes).
    'snap_pending=1',
    `: > "$journal_file" && : > "$candidates" || exit ${EXIT.writingJournal}`,
    `j=$journal_file c=$candidates awk 'BEGIN { j = ENVIRON["j"]; c = ENVIRON["c"] } seen { print > c; next } $0 == "${LIST_SEPARATOR}" { seen = 1; next } { print > j }' "$lists" || exit ${EXIT.writingJournal}`,
    `cd -- "$deploy" || exit ${EXIT.lookingAtFiles}`,
    // Before the snapshot reads anything: no path of the package may lie behind a link out of the deploy directory.
    ...linkGuardLines(),
    'guard_list "$journal_file"',
    // A dangling symlink counts as existing. "./" keeps names off "-".
    `exec 3> "$existing" 4> "$created" || exit ${EXIT.lookingAtFiles}`,
    'while IFS= read -r f; do',
    `  if [ -e "./$f" ] || [ -L "./$f" ]; then printf '%s\\000' "./$f" >&3; else printf '%s\\000' "$f" >&4; fi`,
    `done < "$candidates" || exit ${EXIT.lookingAtFiles}`,
    'exec 3>&- 4>&-',
    `tar -c -z --no-recursion -f "$snap_tmp" --null -T "$existing" || exit ${EXIT.writingSnapshot}`,
    `mv -f -- "$snap_tmp" "$snap" || exit ${EXIT.savingSnapshot}`,
    'snap_pending=',
    `printf '${MARK}snapshot\\n'`,
    'IFS= read -r answer || answer=',
    `if [ "$answer" != go ]; then rm -f -- "$snap" "$created" "$journal_file"; exit ${EXIT.notConfirmed}; fi`,
  ];
}

export const SNAPSHOT_FAILURES: Partial<Record<number, string>> = {
  [EXIT.lookingAtFiles]: 'looking at the files to be replaced',
  [EXIT.writingSnapshot]: 'writing the snapshot',
  [EXIT.writingJournal]: 'writing the list of published files',
  [EXIT.savingSnapshot]: 'saving the snapshot',
  [EXIT.notConfirmed]: 'waiting for Ferry to record the snapshot',
};
