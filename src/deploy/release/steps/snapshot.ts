// Step "snapshot": before anything is overwritten, save exactly what the package will overwrite. snapshots/<job>.tar.gz
// holds the current bytes and modes of every manifest path (and parent directory) that exists; <job>.created lists,
// NUL-separated and deepest first, those that do not, so a rollback can remove them; journal/<job>.files lists the
// manifest. Temp names first; the tar.gz is moved last, so its presence means the snapshot is complete. Then the host
// waits for Ferry's go-ahead, which Ferry sends once the snapshot is recorded in its database: a crash in between
// leaves a host that changed nothing, never one Ferry does not know it can roll back.
import { linkGuardLines } from '../../remote.ts';
import { EXIT, LIST_SEPARATOR, MARK } from '../protocol.ts';

/** Needs $deploy, $lists, $pkg, $snap, $snap_tmp, $created, $created_tmp, $journal_file, $journal_tmp, $candidates, $existing. */
export function snapshotLines(): string[] {
  return [
    `printf '${MARK}phase snapshot\\n'`,
    `awk '$0 == "${LIST_SEPARATOR}" { exit } { print }' "$lists" > "$journal_tmp" || exit ${EXIT.writingJournal}`,
    `awk 'seen { print } $0 == "${LIST_SEPARATOR}" { seen = 1 }' "$lists" > "$candidates" || exit ${EXIT.lookingAtFiles}`,
    `cd -- "$deploy" || exit ${EXIT.lookingAtFiles}`,
    // Before the snapshot reads anything: no path of the package may lie behind a link out of the deploy directory.
    ...linkGuardLines(),
    'guard_list "$journal_tmp"',
    // A dangling symlink counts as existing. "./" keeps names off "-".
    `exec 3> "$existing" 4> "$created_tmp" || exit ${EXIT.lookingAtFiles}`,
    'while IFS= read -r f; do',
    `  if [ -e "./$f" ] || [ -L "./$f" ]; then printf '%s\\000' "./$f" >&3; else printf '%s\\000' "$f" >&4; fi`,
    `done < "$candidates" || exit ${EXIT.lookingAtFiles}`,
    'exec 3>&- 4>&-',
    `tar -c -z --no-recursion -f "$snap_tmp" --null -T "$existing" || exit ${EXIT.writingSnapshot}`,
    `mv -f -- "$journal_tmp" "$journal_file" || exit ${EXIT.writingJournal}`,
    `mv -f -- "$created_tmp" "$created" || exit ${EXIT.savingSnapshot}`,
    `mv -f -- "$snap_tmp" "$snap" || exit ${EXIT.savingSnapshot}`,
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
