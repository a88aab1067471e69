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

/** Needs $pkg, $incoming, $snapshots, $journal. Never exits. */
export function pruneLines(opts: PruneOptions): string[] {
  const keep = Math.max(1, Math.floor(opts.keep) || 1);
  for (const id of [...opts.foreignJobIds, ...(opts.protectJobId === null ? [] : [opts.protectJobId])]) {
    if (!Number.isSafeInteger(id) || id < 0) throw new TypeError(`invalid job id: ${id}`);
  }
  const foreign = [...new Set(opts.foreignJobIds)].map((id) => `|${id}`).join('');
  return [
    `printf '${MARK}phase cleanup\\n'`,
    'rm -f -- "$pkg"',
    `find "$incoming" -maxdepth 1 -type f -name '*.part' -mtime +0 -exec rm -f -- {} + 2>/dev/null`,
    'if cd -- "$snapshots"; then',
    `  for f in *.tar.gz; do [ -f "$f" ] || continue; id=\${f%.tar.gz}; case $id in ''|*[!0-9]*${foreign}) continue ;; esac; printf '%s\\n' "$id"; done | sort -r -n | {`,
    '    n=0',
    '    while IFS= read -r id; do',
    '      n=$((n + 1))',
    `      [ "$n" -le ${keep} ] && continue`,
    ...(opts.protectJobId === null ? [] : [`      [ "$id" -eq ${opts.protectJobId} ] 2>/dev/null && continue`]),
    `      rm -f -- "$id.tar.gz" "$id.created" "$journal/$id.files" || printf '${MARK}warning removing old snapshots failed\\n'`,
    '    done',
    '  }',
    'else',
    `  printf '${MARK}warning listing snapshots failed\\n'`,
    'fi',
  ];
}
