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

/** Needs $deploy, $records and $sums (set by the program); reads the check section of the stdin. */
export function driftLines(): string[] {
  return [
    `IFS= read -r check || exit ${EXIT.protocol}`,
    'set -f; set -- $check; set +f',
    `[ "$1" = check ] || exit ${EXIT.protocol}`,
    `case $4 in ''|*[!0-9]*) exit ${EXIT.protocol} ;; esac`,
    'drift_mode=$2 drift_skip=$3 drift_bytes=$4',
    'if [ "$drift_bytes" -gt 0 ]; then',
    `  printf '${MARK}phase checking\\n'`,
    // Records cut short by the end of the stdin change nothing: the package after them is then missing too.
    `  head -c "$drift_bytes" > "$records" || exit ${EXIT.writingPackage}`,
    `  cd -- "$deploy" || exit ${EXIT.lookingAtFiles}`,
    // Nothing is read through a link out of the deploy directory (the snapshot would refuse the same link anyway).
    ...linkGuardLines().map((line) => `  ${line}`),
    '  guard_lines records < "$records"',
    // The usual case, nothing edited: one `sha256sum -c` over the records, every one of them a regular file. Anything
    // else (a file changed, gone, a link, unreadable) takes the comparison below, which names each one.
    '  all_files=1',
    '  while IFS= read -r line; do f=${line#* }; if [ -f "./$f" ] && [ ! -L "./$f" ]; then printf \'%s  ./%s\\n\' "${line%% *}" "$f"; else all_files=; break; fi; done < "$records" > "$sums"',
    '  if [ -n "$all_files" ] && sha256sum -c --status -- "$sums" 2>/dev/null; then',
    '    drifted=0',
    '  else',
    // One sha256sum for all the regular files (a process per file cost ~20 s of forks on 64 hosts x 301 files
    // sharing two cores); a link or a missing file simply has no sum and counts as changed.
    '    while IFS= read -r line; do f=${line#* }; [ -f "./$f" ] && [ ! -L "./$f" ] && printf \'%s\\000\' "$f"; done < "$records" |',
    // A file that cannot be read has no sum either: changed, as a missing one.
    '      xargs -0 -r sha256sum -- > "$sums" 2>/dev/null',
    // sums: "<sha256>  <path>" (a leading backslash when the name holds one, doubled); records: "<sha256> <path>";
    // exit 1: drifted files (listed), 2: awk failed. By name, not FNR == NR: with no sums at all (every file gone)
    // that test would read the records as sums.
    '    awk -v mark=' + `'${MARK}'` + ' \'',
    '      FILENAME == ARGV[1] { p = substr($0, 67); if (substr($0, 1, 1) == "\\\\") { p = substr($0, 68); gsub(/\\\\\\\\/, "\\\\", p) }',
    '        have[p] = substr($0, 1 + (substr($0, 1, 1) == "\\\\"), 64); next }',
    '      { p = substr($0, 66); if (have[p] != substr($0, 1, 64)) { printf "%sdrift %s\\n", mark, p; n++ } }',
    '      END { if (n) printf "%sdrifted %d\\n", mark, n; exit (n ? 1 : 0) }\' "$sums" "$records"',
    '    case $? in',
    '      0) drifted=0 ;;',
    '      1) drifted=1 ;;',
    `      *) exit ${EXIT.lookingAtFiles} ;;`,
    '    esac',
    '  fi',
    '  if [ "$drifted" -gt 0 ]; then',
    `    [ "$drift_mode" = overwrite ] || exit ${EXIT.drifted}`,
    '  elif [ "$drift_skip" = skip ]; then',
    `    printf '${MARK}unchanged\\n'`,
    '    exit 0',
    '  fi',
    'fi',
  ];
}
