// Which entries a release packs, in order, and what refuses it: links that resolve outside the release (or into
// .ferry), special files, names with control characters. A release is a whole directory (an export) or the selected
// part of a project's working copy (ReleaseSelection), which plans to the same entries as an export of that selection.
import { FerryError } from '../../lib/errors.ts';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../selection.ts';

/**
 * The release inside a directory that holds more, a project's working copy: the selected paths with everything below
 * them and the folders leading to them, never svn's own `.svn`. It packs to what an export of the selection packs to.
 */
export interface ReleaseSelection {
  /** Project-relative paths as normalizeSelection returns them. */
  paths: readonly string[];
  /** Paths inside selected folders left out of the release (normalizeRelease): the deepest selected or excluded entry decides. */
  exclude?: readonly string[];
  /**
   * Write bits (0o222 without the umask's) given back to a file that has none: svn makes a file with svn:needs-lock
   * read-only in a working copy, while an export leaves it writable.
   */
  restoreWriteBits: number;
}

/** Which paths below the root are part of the release (all of them without a ReleaseSelection). */
type InRelease = (path: string) => boolean;

const SVN_DIR_NAME = '.svn';

function inReleaseOf(selection: ReleaseSelection | undefined): InRelease | undefined {
  if (!selection) return undefined;
  const wholeProject = selection.paths.includes(PROJECT_ROOT);
  const selected = new Set(selection.paths);
  const excluded = new Set(selection.exclude ?? []);
  const leading = new Set<string>();
  for (const path of selection.paths) {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) leading.add(segments.slice(0, i).join('/'));
  }
  return (path) => {
    const segments = path.split('/');
    if (segments.includes(SVN_DIR_NAME)) return false;
    // A folder leading to a selected path is there even when excluded: it holds that path and nothing else.
    if (leading.has(path)) return true;
    for (let i = segments.length; i >= 1; i--) {
      const prefix = segments.slice(0, i).join('/');
      if (selected.has(prefix)) return true;
      if (excluded.has(prefix)) return false;
    }
    return wholeProject;
  };
}


/** The release cannot be packed as it is (a link out of it, a special file, an odd name): the content must change. */
export class PackError extends FerryError {
  constructor(message: string) {
    super('refused', message);
    this.name = 'PackError';
  }
}

export type EntryType = 'File' | 'Directory' | 'SymbolicLink';

export interface PlannedEntry {
  path: string;
  absolute: string;
  type: EntryType;
  size: number;
  mode: number;
  mtime: Date;
  link?: string;
}

/** Top-level name of Ferry's own files in every deploy directory (snapshots, journal, incoming packages). */
const FERRY_DIR_NAME = '.ferry';
/** Links followed while resolving one link before it counts as a loop (Linux gives up after 40 too). */
const MAX_LINK_HOPS = 40;

/** Per path below root: its link target, null for anything else that exists, MISSING when the export lacks it. */
type LinkCache = Map<string, string | null | typeof MISSING>;
const MISSING = Symbol('missing');

/**
 * Why the symbolic link `path` (relative to root, target text `link`) must not be published, or null when it resolves
 * inside root. Resolution follows links inside the tree the way the kernel will on a host (so "here -> ." makes
 * "here/.." the parent of root); missing components are taken as they read, but no ".." may follow one. An absolute target is always outside:
 * on a host it would name a place Ferry does not own.
 */
async function linkProblem(root: string, path: string, link: string, lstatCache: LinkCache = new Map(), inRelease?: InRelease): Promise<string | null> {
  const refuse = (why: string) => `${path} -> ${link}: symbolic link ${why}; refusing to publish`;
  const outside = refuse('leads outside the deploy directory');
  // Where the kernel would be: the directory holding the link, as segments below root.
  const at = path.split('/').slice(0, -1);
  let pending = link.split('/');
  if (link.startsWith('/')) return outside;
  let hops = 0;
  // The first component the export does not have: what it is on a host is unknown (it may be a link there), so no
  // ".." may climb back out of it.
  let missing: string | null = null;
  while (pending.length > 0) {
    const segment = pending.shift()!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (missing !== null) return refuse(`goes back up (..) from "${missing}", which the release does not have`);
      if (at.length === 0) return outside;
      at.pop();
      continue;
    }
    at.push(segment);
    const relative = at.join('/');
    if (missing !== null) continue;
    if (!lstatCache.has(relative)) {
      // Outside the selection counts as missing: the export of the selection would not have it.
      const stat = inRelease && !inRelease(relative) ? null : await lstat(join(root, relative)).catch(() => null);
      lstatCache.set(relative, stat === null ? MISSING : stat.isSymbolicLink() ? await readlink(join(root, relative)) : null);
    }
    const target = lstatCache.get(relative) ?? null;
    if (target === MISSING) missing = relative;
    if (typeof target !== 'string') continue;
    if (++hops > MAX_LINK_HOPS) return refuse('cannot be resolved (a loop of links)');
    if (target.startsWith('/')) return outside;
    at.pop();
    pending = [...target.split('/'), ...pending];
  }
  if (at.includes(FERRY_DIR_NAME)) return refuse(`leads into Ferry's own ${FERRY_DIR_NAME} directory`);
  return null;
}

function hasControlCharacter(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Sorted, depth-first walk: a directory, then its contents. Refuses links that lead outside root (see linkProblem). */
export async function planEntries(root: string, selection?: ReleaseSelection): Promise<PlannedEntry[]> {
  return planBelow(root, '', new Map(), inReleaseOf(selection), selection?.restoreWriteBits ?? 0);
}

async function planBelow(root: string, relative: string, lstatCache: LinkCache, inRelease: InRelease | undefined, restoreWriteBits: number): Promise<PlannedEntry[]> {
  const names = (await readdir(join(root, relative))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const planned: PlannedEntry[] = [];
  for (const name of names) {
    const path = relative ? `${relative}/${name}` : name;
    if (inRelease && !inRelease(path)) continue;
    // Journals and FERRY_FILES on the hosts are newline-separated; before-publish hooks can create any name.
    if (hasControlCharacter(name)) throw new PackError(`${JSON.stringify(path)}: file names with control characters (line breaks, tabs and the like) cannot be published; refusing to publish`);
    // At any depth: "a/.ferry" is the deploy directory's own .ferry on a host where "a" is a link to the deploy root.
    if (name === FERRY_DIR_NAME) throw new PackError(`${path}: this name is reserved for Ferry's own files on the hosts; refusing to publish`);
    const absolute = join(root, path);
    const stat = await lstat(absolute);
    const common = { path, absolute, mode: stat.mode & 0o7777, mtime: stat.mtime };
    if (stat.isDirectory()) {
      planned.push({ ...common, type: 'Directory', size: 0 });
      planned.push(...(await planBelow(root, path, lstatCache, inRelease, restoreWriteBits)));
    } else if (stat.isFile()) {
      const mode = (common.mode & 0o222) === 0 ? common.mode | restoreWriteBits : common.mode;
      planned.push({ ...common, mode, type: 'File', size: stat.size });
    } else if (stat.isSymbolicLink()) {
      const link = await readlink(absolute);
      const problem = await linkProblem(root, path, link, lstatCache, inRelease);
      if (problem) throw new PackError(problem);
      planned.push({ ...common, type: 'SymbolicLink', size: 0, link });
    } else {
      throw new PackError(`"${path}" is not a file, directory or symbolic link; it cannot be packed`);
    }
  }
  return planned;
}

