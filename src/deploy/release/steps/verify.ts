// Step "verify": what arrived must have the size and sha256 Ferry sent in the trailer; a damaged package is removed and
// fails the host before anything in the deploy directory changed. A good one is renamed into place.
import { EXIT, MARK } from '../protocol.ts';

/** Needs $part, $pkg, $want_sum, $want_size. */
export function verifyLines(): string[] {
  return [
    `printf '${MARK}phase verifying\\n'`,
    `size=$(wc -c < "$part") || exit ${EXIT.checking}`,
    `sum=$(cat "$sum_file") || exit ${EXIT.checking}`,
    'sum=${sum%% *}',
    `if [ "$sum" != "$want_sum" ] || [ "$size" -ne "$want_size" ]; then rm -f -- "$part"; printf '${MARK}sha256 %s\\n' "$sum"; exit ${EXIT.damaged}; fi`,
    `mv -f -- "$part" "$pkg" || exit ${EXIT.moving}`,
    `printf '${MARK}verified\\n'`,
  ];
}

export const VERIFY_FAILURES: Partial<Record<number, string>> = {
  [EXIT.checking]: 'checking {what}',
  [EXIT.moving]: 'moving {what} into place',
};
