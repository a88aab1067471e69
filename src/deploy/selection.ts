// Validates the files/directories a user picked for a release: paths relative to the project's SVN URL.
// Anything that could escape the project (or the export directory built from it) is refused here, once.

import { FerryError } from '../lib/errors.ts';

/** The whole project, as a selection entry. */
export const PROJECT_ROOT = '.';

/** A file list that is not acceptable (traversal, absolute paths, control characters...): the user's input is wrong. */
export class SelectionError extends FerryError {
  constructor(message: string) {
    super('invalid', message);
    this.name = 'SelectionError';
  }
}

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const DRIVE_LETTER = /^[a-z]:(\/|$)/i;

function hasControlChars(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function quote(path: string): string {
  return JSON.stringify(path);
}

/**
 * Checks one project-relative path and returns it in canonical form: no leading './', no trailing '/',
 * no empty or '.' segments. The project root itself ('.', './') is returned as PROJECT_ROOT.
 */
export function normalizeProjectPath(path: string): string {
  if (typeof path !== 'string') throw new SelectionError('A selected path is not text');
  if (path === '') throw new SelectionError('A selected path is empty');
  if (hasControlChars(path)) throw new SelectionError(`${quote(path)} contains control characters`);
  if (path.includes('\\')) throw new SelectionError(`${quote(path)} contains a backslash; use "/" between folders`);
  if (path.startsWith('/') || DRIVE_LETTER.test(path) || URL_SCHEME.test(path)) {
    throw new SelectionError(`${quote(path)} is an absolute path; give it relative to the project`);
  }
  const segments = path.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw new SelectionError(`${quote(path)} is outside the project`);
  return segments.length === 0 ? PROJECT_ROOT : segments.join('/');
}

/** True if `ancestor` is `path` itself or one of its parent directories. */
function covers(ancestor: string, path: string): boolean {
  return ancestor === PROJECT_ROOT || ancestor === path || path.startsWith(`${ancestor}/`);
}

/**
 * Validates and canonicalizes a release selection: dedupes, drops entries inside another selected
 * directory, and sorts. Throws SelectionError naming the offending path.
 */
export function normalizeSelection(paths: readonly string[]): string[] {
  if (!Array.isArray(paths) || paths.length === 0) throw new SelectionError('Nothing is selected');
  const unique = [...new Set(paths.map(normalizeProjectPath))];
  // In segment order everything under a directory directly follows it, so only the last kept entry can cover.
  unique.sort(comparePaths);
  const kept: string[] = [];
  for (const path of unique) {
    const last = kept[kept.length - 1];
    if (last === undefined || !covers(last, path)) kept.push(path);
  }
  return kept;
}

/** Orders by path segments, so 'a/b' sorts right after 'a' (before 'a-b'), independent of locale. */
function comparePaths(a: string, b: string): number {
  if (a === PROJECT_ROOT || b === PROJECT_ROOT) return a === b ? 0 : a === PROJECT_ROOT ? -1 : 1;
  const as = a.split('/');
  const bs = b.split('/');
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    if (as[i] !== bs[i]) return as[i] < bs[i] ? -1 : 1;
  }
  return as.length - bs.length;
}

/** A selection with exclusions, normalized: what normalizeRelease returns. */
export interface NormalizedRelease {
  /** Selected paths; one inside another is kept only when an exclusion lies between them (a file ticked again). */
  files: string[];
  /** Excluded paths, each inside a selected folder. */
  exclude: string[];
}

/**
 * Validates "these folders except these paths": every path like normalizeProjectPath; each exclusion must lie inside a
 * selected folder. The deepest entry decides, so a file selected inside an excluded folder is published. Entries that
 * change nothing (a file inside a selected folder, an exclusion inside an excluded one) are dropped.
 */
export function normalizeRelease(paths: readonly string[], exclude: readonly string[] = []): NormalizedRelease {
  if (!Array.isArray(exclude)) throw new SelectionError('The exclusions must be a list of paths');
  if (exclude.length === 0) return { files: normalizeSelection(paths), exclude: [] };
  if (!Array.isArray(paths) || paths.length === 0) throw new SelectionError('Nothing is selected');
  const selected = new Set(paths.map(normalizeProjectPath));
  const excluded = new Set(exclude.map(normalizeProjectPath));
  for (const path of excluded) if (selected.has(path)) throw new SelectionError(`${quote(path)} is both selected and excluded`);
  /** The nearest selected or excluded folder above `path`: true, false, or undefined when there is none. */
  const above = (path: string): boolean | undefined => {
    if (path === PROJECT_ROOT) return undefined;
    const segments = path.split('/');
    for (let i = segments.length - 1; i >= 1; i--) {
      const parent = segments.slice(0, i).join('/');
      if (selected.has(parent)) return true;
      if (excluded.has(parent)) return false;
    }
    return selected.has(PROJECT_ROOT) ? true : undefined;
  };
  const files = [...selected].filter((path) => above(path) !== true).sort(comparePaths);
  const kept: string[] = [];
  for (const path of [...excluded].sort(comparePaths)) {
    const state = above(path);
    if (state === undefined) throw new SelectionError(`${quote(path)} is excluded but is not inside a selected folder`);
    if (state) kept.push(path);
  }
  return { files, exclude: kept };
}
