// How Ferry runs the svn command line: the URL schemes it accepts, a UTF-8 environment, a private config dir (so
// ~/.subversion is never read and no credentials are cached), revision arguments and the `svn update` report.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SvnError } from './errors.ts';
import type { SvnRevision } from './types.ts';

// One line per path an update touched: text, property, lock and tree-conflict columns, a space, the path.
const UPDATE_LINE = /^([ADUCGER ])([UCG ])([B ])([C ]) \S/;

/** Counts the paths in `svn update`/`switch` output and notices conflicts (the working copy is cleaned first, so none is expected). */
export function countUpdateReport(stdout: string): { changed: number; conflicted: boolean } {
  let changed = 0;
  // "Skipped paths" are listed under the conflicts too: a selected path that does not exist (checked by the caller).
  let conflicted = /^ {2}(Text|Property|Tree) conflicts: [1-9]/m.test(stdout);
  for (const line of stdout.split('\n')) {
    const match = UPDATE_LINE.exec(line);
    if (!match || match.slice(1).join('').trim() === '') continue;
    changed++;
    if (match[1] === 'C' || match[2] === 'C' || match[4] === 'C') conflicted = true;
  }
  return { changed, conflicted };
}

export const SUPPORTED_SCHEMES = new Set(['svn:', 'svn+ssh:', 'http:', 'https:', 'file:']);
// svn must read and print UTF-8 (non-ASCII paths and messages); C.UTF-8 also keeps its messages in English.
export const SVN_ENV = { LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
export const BIG_OUTPUT = 256 * 1024 * 1024;

let sharedConfigDir: string | null = null;

/**
 * One private svn config dir per process, removed at exit. The files svn would otherwise create on first use
 * are made empty up front (= all defaults), so concurrent svn runs never race to write them.
 */
export function defaultConfigDir(): string {
  if (!sharedConfigDir) {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-svn-config-'));
    mkdirSync(join(dir, 'auth'), { mode: 0o700 });
    for (const file of ['README.txt', 'config', 'servers']) writeFileSync(join(dir, file), '', { mode: 0o600 });
    sharedConfigDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return sharedConfigDir;
}

/** A revision as svn's -r argument; throws a plain SvnError for anything but 'HEAD' or a non-negative integer. */
export function checkRevision(rev: SvnRevision): string {
  if (rev === 'HEAD') return 'HEAD';
  if (!Number.isSafeInteger(rev) || rev < 0) throw new SvnError('bad-input', `"${String(rev)}" is not a revision number.`);
  return String(rev);
}

