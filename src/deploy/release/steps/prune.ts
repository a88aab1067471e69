// Step "prune": the package goes (and `.part` files that earlier jobs left behind when their connection dropped, a day
// old or more), then the newest `keep` snapshots (by job id) and the protected one stay. Problems are warnings: the
// files are published by then.
import { MARK } from '../protocol.ts';

export interface PruneOptions {
  keep: number;
  /** A snapshot that must never go (the newest successful publish). */
  protectJobId: number | null;
  /** Snapshots of other projects sharing this deploy directory: neither counted nor deleted. */
  foreignJobIds: readonly number[];
}

/** Needs $part, $incoming, $snapshots, $journal. Never exits. */
export function pruneLines(opts: PruneOptions): string[] {
  const keep = Math.max(1, Math.floor(opts.keep) || 1);
  for (const id of [...opts.foreignJobIds, ...(opts.protectJobId === null ? [] : [opts.protectJobId])]) {
    if (!Number.isSafeInteger(id) || id < 0) throw new TypeError(`invalid job id: ${id}`);
  }
  const foreign = [...new Set(opts.foreignJobIds)].map((id) => `|${id}`).join('');
  // The package itself goes with the program's other files when it exits (program.ts). Shell built-ins only, unless
  // something is to be removed: a fork and exec costs 2-4 ms on a small VM, on every host.
  return [
    `printf '${MARK}phase cleanup\\n'`,
    `for f in "$incoming"/*.part; do [ "$f" = "$part" ] && continue; [ -e "$f" ] && find "$incoming" -maxdepth 1 -type f -name '*.part' -mtime +0 -exec rm -f -- {} + 2>/dev/null; break; done`,
    'if cd -- "$snapshots"; then',
    '  ids= n=0',
    `  for f in *.tar.gz; do [ -f "$f" ] || continue; id=\${f%.tar.gz}; case $id in ''|*[!0-9]*${foreign}) continue ;; esac; ids="$ids $id"; n=$((n + 1)); done`,
    // All but the newest `keep` go, oldest first: take the smallest id out until `keep` are left.
    `  while [ "$n" -gt ${keep} ]; do`,
    '    old=',
    '    for id in $ids; do [ -z "$old" ] || [ "$id" -lt "$old" ] && old=$id; done',
    '    rest=',
    '    for id in $ids; do [ "$id" = "$old" ] || rest="$rest $id"; done',
    '    ids=$rest n=$((n - 1))',
    ...(opts.protectJobId === null ? [] : [`    [ "$old" -eq ${opts.protectJobId} ] 2>/dev/null && continue`]),
    `    rm -f -- "$old.tar.gz" "$old.created" "$journal/$old.files" || printf '${MARK}warning removing old snapshots failed\\n'`,
    '  done',
    'else',
    `  printf '${MARK}warning listing snapshots failed\\n'`,
    'fi',
  ];
}
