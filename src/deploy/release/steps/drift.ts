// Step "drift": before the package is received, each file of it that Ferry recorded putting on this host is compared
// with that record (sha256sum; a missing file, or one that is no longer a regular file, counts as changed). Hand
// edits are reported, one `drift <path>` line each and a `drifted <n>` line, and the program stops with its own exit
// code having changed nothing, unless Ferry said `overwrite`. A host Ferry judged to hold every file of the package
// already (`skip`) that still does says `unchanged` and exits 0 without reading the package: Ferry stops sending then.
import { linkGuardLines } from '../../remote.ts';
import { EXIT, MARK, WIRE_VERSION } from '../protocol.ts';

/** The first line Ferry sends (protocol.ts). */
export function headerLines(): string[] {
  return [
    `IFS= read -r header || exit ${EXIT.protocol}`,
    `[ "$header" = "ferry-release ${WIRE_VERSION}" ] || exit ${EXIT.protocol}`,
  ];
}

/** Needs $deploy and $records (set by the program); reads the check section of the stdin. */
export function driftLines(): string[] {
  return [
    `IFS= read -r check || exit ${EXIT.protocol}`,
    'set -f; set -- $check; set +f',
    `[ "$1" = check ] || exit ${EXIT.protocol}`,
    `case $4 in ''|*[!0-9]*) exit ${EXIT.protocol} ;; esac`,
    'drift_mode=$2 drift_skip=$3 drift_bytes=$4',
    'if [ "$drift_bytes" -gt 0 ]; then',
    `  printf '${MARK}phase checking\\n'`,
    `  ( umask 077 && head -c "$drift_bytes" > "$records" ) || exit ${EXIT.writingPackage}`,
    `  [ "$(wc -c < "$records")" -eq "$drift_bytes" ] || exit ${EXIT.protocol}`,
    `  cd -- "$deploy" || exit ${EXIT.lookingAtFiles}`,
    // Nothing is read through a link out of the deploy directory (the snapshot would refuse the same link anyway).
    ...linkGuardLines().map((line) => `  ${line}`),
    `  sed 's/^[^ ]* //' "$records" | guard_lines || exit $?`,
    '  drifted=0',
    '  while IFS= read -r line; do',
    '    want=${line%% *} f=${line#* }',
    '    if [ -f "./$f" ] && [ ! -L "./$f" ]; then',
    '      have=$(sha256sum < "./$f") && [ "${have%% *}" = "$want" ] && continue',
    '    fi',
    `    printf '${MARK}drift %s\\n' "$f"`,
    '    drifted=$((drifted + 1))',
    `  done < "$records" || exit ${EXIT.lookingAtFiles}`,
    '  if [ "$drifted" -gt 0 ]; then',
    `    printf '${MARK}drifted %s\\n' "$drifted"`,
    `    [ "$drift_mode" = overwrite ] || exit ${EXIT.drifted}`,
    '  elif [ "$drift_skip" = skip ]; then',
    `    printf '${MARK}unchanged\\n'`,
    '    exit 0',
    '  fi',
    'fi',
  ];
}
