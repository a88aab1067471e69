// Step "extract": unpack over the deploy directory, keeping the package's modes. When tar fails, the same command notes
// how full the disk is and puts the snapshot back (restore_job), so a host is never left half-published.
import { linkGuardLines } from '../../remote.ts';
import { EXIT, MARK } from '../protocol.ts';

/** Printed when extraction refused before tar and removed the job's snapshot and journal. */
export const SNAPSHOT_DROPPED = 'snapshot-dropped';

/** Needs $deploy, $pkg, $snap, $created, $journal_file, $job, $ferry_umask (program.ts) and restore_job. */
export function extractLines(): string[] {
  return [
    `printf '${MARK}phase extracting\\n'`,
    // Checked again right before writing: a link may have appeared on the host since the snapshot. Nothing was
    // extracted when this refuses, so the job's snapshot and journal go too: a rollback must not "restore" it.
    ...linkGuardLines(`rm -f -- "$pkg" "$snap" "$created" "$journal_file" && printf '${MARK}${SNAPSHOT_DROPPED}\\n'`),
    'guard_list "$journal_file"',
    // --keep-directory-symlink: a directory that is a symlink on the target (conf -> shared/conf) stays a symlink; GNU
    // tar would otherwise replace it with a real directory holding only the published files. The guard above made sure
    // each such link resolves inside the deploy directory. Links the package itself holds cannot be gone through by
    // its later members: GNU tar creates a link whose target is absolute or has ".." only after everything else, and
    // pack.ts refuses links that leave the release anyway.
    // No -z: the package is a .tar.gz or, when gzip would not pay (pack.ts), a plain tar; GNU tar tells them apart
    // by their first bytes when reading a file.
    // The login's own umask again (Ferry's files were written under 077): for directories tar creates that the package
    // does not hold.
    'umask "$ferry_umask"',
    'tar -x -p --no-same-owner --keep-directory-symlink -f "$pkg" -C "$deploy"',
    'rc=$?',
    'if [ "$rc" -ne 0 ]; then',
    `  printf '${MARK}extract-failed %s\\n' "$rc"`,
    // Before the restore frees the space again: GNU tar reports a full disk only as a short write.
    `  df -P -k -- "$deploy" 2>/dev/null | sed -n '2s/^/${MARK}df /p'`,
    `  printf '${MARK}restoring\\n'`,
    '  ( restore_job "$job" ) 2>&1',
    '  st=$?',
    '  rm -f -- "$pkg"',
    `  printf '\\n${MARK}restore-status %s\\n' "$st"`,
    `  exit ${EXIT.extractFailed}`,
    'fi',
  ];
}
