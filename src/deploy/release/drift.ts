// The drift check a publish carries to each host (steps/drift.ts), built from what Ferry recorded putting there: the
// recorded sha256 of every file of the package the host is about to get, and whether the host may answer
// "unchanged" (every file of the package is recorded there with the package's own bytes). And what its answer means.
import { fill, tk } from '../../lib/messages.ts';
import { normalizeManifestPath } from '../remote.ts';
import type { PackageInfo } from './feed.ts';
import type { DriftCheck } from './protocol.ts';

/** A file Ferry recorded putting on a host (HostFile). */
export interface RecordedFile {
  path: string;
  sha256: string;
  size: number;
}

/** What the services know of one host before a publish. */
export interface DriftRequest {
  /** What Ferry recorded on this host for this project (any paths; only those in the package are sent). */
  recorded: readonly RecordedFile[];
  /** Publish over hand edits (they are still reported). */
  overwrite: boolean;
  /** The host may be skipped when every file is in place (not in waves, nor with before-publish hooks). */
  skipUnchanged: boolean;
}

/** Printed by a host that holds every file of the package and was allowed to stop there. */
export const UNCHANGED_MARK = 'unchanged';
/** What such a host's output says. */
export const SKIPPED_TEXT = 'skipped: every file is already in place on this host, nothing was sent';

/** The check for a complete package, or null when nothing of it is recorded on the host. */
export function driftCheckFor(info: PackageInfo, req: DriftRequest | undefined): DriftCheck | null {
  if (!req || req.recorded.length === 0 || !info.files) return null;
  const byPath = new Map(req.recorded.filter((r) => /^[0-9a-f]{64}$/i.test(r.sha256)).map((r) => [r.path, r]));
  const records: { path: string; sha256: string }[] = [];
  // Links are not recorded: a package holding one is never judged already in place.
  let allInPlace = info.files.length > 0 && info.files.length === new Set(info.manifestPaths).size;
  for (const file of info.files) {
    const record = byPath.get(file.path);
    if (!record) {
      allInPlace = false;
      continue;
    }
    records.push({ path: normalizeManifestPath(file.path), sha256: record.sha256 });
    if (record.sha256.toLowerCase() !== file.sha256.toLowerCase() || record.size !== file.size) allInPlace = false;
  }
  if (records.length === 0) return null;
  return { records, overwrite: req.overwrite, mayBeUnchanged: req.skipUnchanged && allInPlace };
}

/** Whether a host's recorded error is driftRefusal's (the job page then offers a retry that overwrites them). */
export const isDriftRefusal = (error: string | null | undefined): boolean => /edited by hand since Ferry's last release \(.*\); nothing was changed\./.test(error ?? '');

/** The host's error when it refused to overwrite hand edits (exit EXIT.drifted). */
export function driftRefusal(paths: readonly string[]): string {
  const shown = paths.slice(0, 5).join(', ') + (paths.length > 5 ? ', …' : '');
  return paths.length === 1
    ? fill(tk('1 file on this host was edited by hand since Ferry\'s last release ({{paths}}); nothing was changed. Publish again with "overwrite hand edits" ticked to replace it.'), { paths: shown })
    : fill(tk('{{n}} files on this host were edited by hand since Ferry\'s last release ({{paths}}); nothing was changed. Publish again with "overwrite hand edits" ticked to replace them.'), { n: paths.length, paths: shown });
}
