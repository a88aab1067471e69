// One private, sparse SVN working copy per project under <cacheDir>/svn, brought to the wanted revision before each
// build, so a publish fetches only what changed since the project's last one. One job at a time per working copy (an
// in-process lock: one Ferry process owns its data directory); a damaged one heals itself (svn cleanup, else a fresh
// checkout); beyond the limits the least recently used are deleted.
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedMutex } from '../lib/keyed-mutex.ts';
import { treeBytes } from './pack/index.ts';
import { PROJECT_ROOT } from './selection.ts';
import { SvnError, type SvnClient } from './svn/index.ts';
import type { EngineLogger } from './types.ts';

interface WorkingCopyLimits {
  /** Most projects with a working copy. */
  count: number;
  /** Total bytes of all working copies. */
  bytes: number;
}

/** What a job gets while it holds a working copy. */
export interface WorkingCopyLease {
  dir: string;
  repositoryUuid: string | null;
  /** Write bits svn's umask allows (from the working copy's own folder), for ReleaseSelection.restoreWriteBits. */
  writeBits: number;
}

/** <name>.json beside the working copy <name>/: written after each successful use. */
interface WorkingCopyState {
  projectKey: string;
  url: string;
  revision: number;
  lastUsed: number;
  bytes: number;
}

/** A readable, collision-free directory name for a project key. */
export function workingCopyName(projectKey: string): string {
  const readable = projectKey.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40);
  return `${readable}-${createHash('sha256').update(projectKey).digest('hex').slice(0, 12)}`;
}

/** svn failed in a way Ferry cannot name (a broken or interrupted working copy, most likely): start again from scratch. */
function isWorkingCopyTrouble(error: unknown): error is SvnError {
  return error instanceof SvnError && error.reason === 'unknown';
}

function sameUrl(a: string, b: string): boolean {
  const canonical = (url: string) => {
    try {
      return decodeURI(url.replace(/\/+$/, ''));
    } catch {
      return url;
    }
  };
  return canonical(a) === canonical(b);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * One lock per working copy, by absolute path, shared by every WorkingCopies object of the process, so that even two
 * ReleaseSource objects on one cache directory take turns.
 */
const copyLocks = new KeyedMutex();

export class WorkingCopies {
  constructor(
    private readonly dir: string,
    private readonly limits: WorkingCopyLimits,
    private readonly logger: EngineLogger,
  ) {}

  /**
   * Runs `work` on the project's working copy once it holds `selection` at `revision`, with no local change.
   * Jobs of one project wait for each other here; other projects go on in parallel.
   */
  async use<T>(projectKey: string, client: SvnClient, revision: number, selection: readonly string[], onStep: (text: string) => void, work: (lease: WorkingCopyLease) => Promise<T>): Promise<T> {
    const name = workingCopyName(projectKey);
    const result = await copyLocks.run(join(this.dir, name), async () => {
      const wcDir = join(this.dir, name);
      await mkdir(this.dir, { recursive: true });
      const stateFile = join(this.dir, `${name}.json`);
      const previous = await readFile(stateFile, 'utf8').then((text) => JSON.parse(text) as WorkingCopyState, () => null);
      const { repositoryUuid, changed } = await this.sync(client, wcDir, revision, selection, onStep);
      // Recorded before `work` runs: the copy is sound even when packing it fails (a refused link, a full disk).
      // Its size (files and svn's pristine copies) is measured again only when svn changed something.
      const bytes = changed || typeof previous?.bytes !== 'number' ? await treeBytes(wcDir) : previous.bytes;
      const state: WorkingCopyState = { projectKey, url: client.projectUrl, revision, lastUsed: Date.now(), bytes };
      const temp = join(this.dir, `.${name}.json.tmp`);
      await writeFile(temp, `${JSON.stringify(state)}\n`);
      await rename(temp, stateFile);
      return work({ dir: wcDir, repositoryUuid, writeBits: (await stat(wcDir)).mode & 0o222 });
    });
    await this.evict(name).catch((error: unknown) => this.logger.warn({ err: error }, 'could not trim the SVN working copies'));
    return result;
  }

  /** Brings the working copy to `revision` for `selection`; returns the repository's UUID and whether files changed. */
  private async sync(client: SvnClient, wcDir: string, revision: number, selection: readonly string[], onStep: (text: string) => void): Promise<{ repositoryUuid: string | null; changed: boolean }> {
    const existed = await lstat(wcDir).then(() => true, () => false);
    if (existed) {
      try {
        const { changed, uuid } = await this.refresh(client, wcDir, revision, selection);
        onStep(changed > 0 ? `updated the working copy to r${revision} (${plural(changed, 'path')} changed)` : `the working copy already has r${revision}`);
        return { repositoryUuid: uuid, changed: changed > 0 };
      } catch (error) {
        if (!isWorkingCopyTrouble(error)) throw error;
        this.logger.warn({ wcDir, detail: error.detail, message: error.message }, 'SVN working copy is damaged; checking it out again');
        onStep(`the working copy could not be updated (${error.message}); checking it out again`);
      }
      await rm(wcDir, { recursive: true, force: true });
    }
    await client.checkoutEmpty(wcDir, revision);
    const fetched = await client.fetchIntoWorkingCopy(wcDir, selection, revision);
    await client.checkSelectionPresent(wcDir, selection, revision);
    onStep(`checked out r${revision} into a new working copy (${plural(fetched, 'path')})`);
    return { repositoryUuid: (await client.workingCopyInfo(wcDir)).repositoryUuid, changed: true };
  }

  /** Undoes local changes, follows a changed project URL, updates, and fetches what the selection adds. */
  private async refresh(client: SvnClient, wcDir: string, revision: number, selection: readonly string[]): Promise<{ changed: number; uuid: string | null }> {
    await client.cleanWorkingCopy(wcDir);
    const info = await client.workingCopyInfo(wcDir);
    let changed = 0;
    if (!sameUrl(info.url, client.projectUrl)) changed += await client.switchWorkingCopy(wcDir, revision);
    else if (!selection.includes(PROJECT_ROOT)) changed += await client.updateWorkingCopy(wcDir, revision);
    // Files already here are now at `revision`. Missing paths and every selected folder (which may hold only the
    // folders leading to an earlier selection, or have come back as a fresh node) are fetched in full depth.
    const deeper: string[] = [];
    for (const path of selection) {
      const here = path === PROJECT_ROOT ? null : await lstat(join(wcDir, ...path.split('/'))).catch(() => null);
      if (here === null || here.isDirectory()) deeper.push(path);
    }
    changed += await client.fetchIntoWorkingCopy(wcDir, deeper, revision);
    await client.checkSelectionPresent(wcDir, selection, revision);
    return { changed, uuid: info.repositoryUuid };
  }

  /** Deletes the least recently used working copies beyond the limits (never `current` nor one in use), and leftovers. */
  private async evict(current: string): Promise<void> {
    const names = new Set(await readdir(this.dir));
    const copies: (WorkingCopyState & { name: string })[] = [];
    for (const name of names) {
      if (name.startsWith('.') && name.endsWith('.json.tmp') && !this.isBusy(name.slice(1, -'.json.tmp'.length))) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      if (name.endsWith('.json') || name.startsWith('.')) continue;
      const state = await readFile(join(this.dir, `${name}.json`), 'utf8').then((text) => JSON.parse(text) as WorkingCopyState, () => null);
      // Without its state file it is what a crashed checkout left: nobody can reuse it.
      if (state === null || typeof state.lastUsed !== 'number') await this.remove(name, 'no record of its last use');
      else copies.push({ ...state, name });
    }
    for (const name of names) {
      const owner = name.slice(0, -'.json'.length);
      if (name.endsWith('.json') && !names.has(owner) && !this.isBusy(owner)) await rm(join(this.dir, name), { force: true });
    }
    // Newest first: keep while within the limits; a copy in use is kept whatever it costs.
    copies.sort((a, b) => b.lastUsed - a.lastUsed);
    let kept = 0;
    let keptBytes = 0;
    for (const copy of copies) {
      const inUse = copy.name === current || this.isBusy(copy.name);
      if (inUse || (kept < this.limits.count && keptBytes + copy.bytes <= this.limits.bytes)) {
        kept++;
        keptBytes += copy.bytes;
      } else {
        await this.remove(copy.name, `beyond the limits (${this.limits.count} working copies, ${this.limits.bytes} bytes)`);
      }
    }
  }

  /** Deletes a working copy and its state, unless a job took it meanwhile. */
  private async remove(name: string, reason: string): Promise<void> {
    if (this.isBusy(name)) return;
    await copyLocks.run(join(this.dir, name), async () => {
      await rm(join(this.dir, `${name}.json`), { force: true });
      await rm(join(this.dir, name), { recursive: true, force: true });
    });
    this.logger.info({ workingCopy: name, reason }, 'deleted an SVN working copy');
  }

  private isBusy(name: string): boolean {
    return copyLocks.isBusy(join(this.dir, name));
  }
}
