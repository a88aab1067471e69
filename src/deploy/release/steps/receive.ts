// Step "receive": the package arrives on the command's own stdin (no SFTP session, no second login) and is written to
// `.ferry/incoming/<job>.pkg.part` (its sha256 computed on the way), and the lists Ferry sends after it. A stream
// that ends early fails here. The header and the drift check come before it (drift.ts).
import { EXIT, MARK } from '../protocol.ts';

/**
 * Needs $part, $sum_file, $recv_status, $tee_status, $lists (set by the program; umask 077). Leaves the expected sha256
 * and size in $want_sum / $want_size and the bytes received in $got_size.
 */
export function receiveLines(): string[] {
  return [
    `printf '${MARK}phase receiving\\n'`,
    `: > "$recv_status" && : > "$tee_status" || exit ${EXIT.writingPackage}`,
    // One pipeline, its sha256 computed while the package arrives: the frames are copied out of the stdin (the stdin
    // is shared, so the trailer is read afterwards), written by tee and hashed. Every process counts (a fork and exec
    // costs 2-4 ms on a small VM, times every host), so the statuses come back in files read by the shell itself.
    '{',
    '  total=0',
    '  while IFS= read -r n; do',
    '    case $n in',
    '      0) echo "ok $total" > "$recv_status"; exit 0 ;;',
    "      ''|*[!0-9]*) break ;;",
    '    esac',
    `    head -c "$n" || { echo ${EXIT.writingPackage} > "$recv_status"; exit 1; }`,
    '    total=$((total + n))',
    '  done',
    // Ferry stopped sending (it was stopped, packing failed, or the connection dropped): nothing below may run.
    `  echo ${EXIT.protocol} > "$recv_status"`,
    '} | { tee -- "$part"; echo "$?" > "$tee_status"; } | sha256sum > "$sum_file"',
    'read -r tee_rc < "$tee_status" || tee_rc=',
    `[ "$tee_rc" = 0 ] || exit ${EXIT.writingPackage}`,
    'read -r recv_rc got_size < "$recv_status" || recv_rc=',
    `case $recv_rc in ok) ;; ${EXIT.writingPackage}) exit ${EXIT.writingPackage} ;; *) exit ${EXIT.protocol} ;; esac`,
    `IFS= read -r trailer || exit ${EXIT.protocol}`,
    'set -- $trailer',
    'want_sum=$1 want_size=$2',
    `case $3 in ''|*[!0-9]*) exit ${EXIT.protocol} ;; esac`,
    // A list cut short by the end of the stdin is harmless: the go-ahead after it is then missing too (snapshot.ts).
    `head -c "$3" > "$lists" || exit ${EXIT.writingPackage}`,
  ];
}

export const RECEIVE_FAILURES: Partial<Record<number, string>> = {
  [EXIT.protocol]: 'receiving the package',
  [EXIT.writingPackage]: 'writing the package to .ferry/incoming',
  [EXIT.creatingDirs]: 'creating the .ferry directories',
};
