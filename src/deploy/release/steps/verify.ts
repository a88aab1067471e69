// Step "verify": what arrived must have the size and sha256 Ferry sent in the trailer; a damaged package is removed and
// fails the host before anything in the deploy directory changed.
import { EXIT, MARK } from '../protocol.ts';

/** Needs $part, $sum_file, $got_size (receive.ts), $want_sum, $want_size. */
export function verifyLines(): string[] {
  return [
    `printf '${MARK}phase verifying\\n'`,
    // tee wrote every byte it hashed (it exited 0), so the bytes received are the bytes in the file.
    'read -r sum rest < "$sum_file" || sum=',
    `if [ "$sum" != "$want_sum" ] || [ "$got_size" -ne "$want_size" ]; then rm -f -- "$part"; printf '${MARK}sha256 %s\\n' "$sum"; exit ${EXIT.damaged}; fi`,
    `printf '${MARK}verified\\n'`,
  ];
}
