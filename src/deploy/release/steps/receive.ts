// Step "receive": the package arrives on the command's own stdin (no SFTP session, no second login) and is written to
// `.ferry/incoming/<job>.pkg.part` (its sha256 computed on the way), and the lists Ferry sends after it. A stream
// that ends early fails here. The header and the drift check come before it (drift.ts).
import { EXIT, MARK } from '../protocol.ts';

/** Needs $incoming, $part, $lists (set by the program). Leaves the expected sha256 and size in $want_sum / $want_size. */
export function receiveLines(): string[] {
  return [
    `printf '${MARK}phase receiving\\n'`,
    `( umask 077 && : > "$part" && : > "$sum_file" ) || exit ${EXIT.writingPackage}`,
    // The sha256 is computed while the package arrives, by one background `tee | sha256sum` fed through a fifo.
    `rm -f -- "$fifo" && mkfifo -m 600 -- "$fifo" || exit ${EXIT.writingPackage}`,
    `{ tee -- "$part" < "$fifo"; echo "$?" > "$tee_status"; } | sha256sum > "$sum_file" &`,
    'hasher=$!',
    `exec 5> "$fifo" || exit ${EXIT.writingPackage}`,
    'complete=',
    'while IFS= read -r n; do',
    `  case $n in 0) complete=1; break ;; ''|*[!0-9]*) exit ${EXIT.protocol} ;; esac`,
    `  head -c "$n" >&5 || exit ${EXIT.writingPackage}`,
    'done',
    'exec 5>&-',
    'wait "$hasher"',
    `[ "$(cat "$tee_status" 2>/dev/null)" = 0 ] || exit ${EXIT.writingPackage}`,
    // Ferry stopped sending (it was stopped, packing failed, or the connection dropped): nothing below may run.
    `[ -n "$complete" ] || exit ${EXIT.protocol}`,
    `IFS= read -r trailer || exit ${EXIT.protocol}`,
    'set -- $trailer',
    'want_sum=$1 want_size=$2',
    `case $3 in ''|*[!0-9]*) exit ${EXIT.protocol} ;; esac`,
    `( umask 077 && head -c "$3" > "$lists" ) || exit ${EXIT.writingPackage}`,
    `[ "$(wc -c < "$lists")" -eq "$3" ] || exit ${EXIT.protocol}`,
  ];
}

export const RECEIVE_FAILURES: Partial<Record<number, string>> = {
  [EXIT.protocol]: 'receiving the package',
  [EXIT.writingPackage]: 'writing the package to .ferry/incoming',
  [EXIT.creatingDirs]: 'creating the .ferry directories',
};
