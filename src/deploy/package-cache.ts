// Packages already built, under <cacheDir>/packages, reused when the same SVN URL, revision and selection is published
// again. An entry is <key>.json (small, renamed into place last, so it exists only for a complete package) naming
// <key>.<id>.tar.gz and <key>.<id>.manifest.json. The package is written under its final name, so uploads can read it
// while it grows. A rebuilt entry gets a new id, so a package someone is reading is never overwritten; a package being
// built, or handed out and not yet released (pinned), is never deleted. A reused package is checked
// against its recorded size and sha256 first: a damaged one is dropped and built again.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedMutex } from '../lib/keyed-mutex.ts';
import { DEFAULT_GZIP_LEVEL, type ManifestEntry, type PackResult } from './pack/index.ts';
import type { EngineLogger } from './types.ts';

/** Part of every key: raise it when a package built from the same files would come out different. */
const PACKAGE_FORMAT = 1;

interface PackageCacheLimits {
  /** Total bytes of cached packages (with their manifests). */
  bytes: number;
  entries: number;
  /** An entry unused for this long is deleted. */
  maxIdleMs: number;
}

/** What <key>.json records. */
interface EntryRecord {
  format: number;
  key: string;
  id: string;
  url: string;
  repositoryUuid: string | null;
  revision: number;
  /** For people reading the cache directory; the key already covers it. */
  selection: readonly string[];
  /** Left out of the selection, when anything was. */
  exclude?: readonly string[];
  sha256: string;
  bytes: number;
  fileCount: number;
  builtAt: number;
}

/** A package ready to upload, and the way to let go of it. */
export interface PackageHandle {
  revision: number;
  packagePath: string;
  /** Hex sha256 of the .tar.gz. */
  sha256: string;
  /** Regular files and symbolic links, in archive order. */
  manifest: ManifestEntry[];
  fileCount: number;
  bytes: number;
  /** The caller is done reading packagePath: unpins it so that the cache may delete it. Later calls do nothing. */
  release(): Promise<void>;
}

export interface CachedPackage extends PackageHandle {
  builtAt: Date;
}

/** The cache key of a package: the repository URL, revision and normalized selection (with its exclusions) it was built from. */
export function packageKey(url: string, revision: number, selection: readonly string[], exclude: readonly string[] = []): string {
  // Without exclusions the key is what it was before they existed, so packages cached then are still found.
  const identity = JSON.stringify({ format: PACKAGE_FORMAT, gzipLevel: DEFAULT_GZIP_LEVEL, url, revision, selection, ...(exclude.length ? { exclude } : {}) });
  return createHash('sha256').update(identity).digest('hex');
}

const packageFile = (record: Pick<EntryRecord, 'key' | 'id'>) => `${record.key}.${record.id}.tar.gz`;
const manifestFile = (record: Pick<EntryRecord, 'key' | 'id'>) => `${record.key}.${record.id}.manifest.json`;
const TEMP_PREFIX = '.tmp-';
/** The build id in a file name: `.tmp-<id>.json`, `<key>.<id>.tar.gz`, `<key>.<id>.manifest.json`. */
const idOf = (name: string) => (name.startsWith(TEMP_PREFIX) ? name.slice(TEMP_PREFIX.length).split('.')[0] : name.split('.')[1]);

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

function isEntryRecord(value: unknown): value is EntryRecord {
  const r = value as EntryRecord;
  return typeof r === 'object' && r !== null && r.format === PACKAGE_FORMAT && typeof r.key === 'string' && /^[0-9a-f]+$/.test(r.id)
    && typeof r.sha256 === 'string' && Number.isSafeInteger(r.bytes) && Number.isSafeInteger(r.revision) && Number.isSafeInteger(r.fileCount);
}

// Shared by every PackageCache object of the process, by absolute path, so that two on one directory cooperate.
/** Handed-out packages not yet released. */
const pins = new Map<string, number>();
/** Ids (under their directory) of packages being built now: their files are not leftovers. */
const building = new Set<string>();
/** Per cache directory: serializes changes to the set of entries (commit, pin, evict); never held while building or hashing. */
const indexLocks = new KeyedMutex();

export class PackageCache {
  constructor(
    private readonly dir: string,
    private readonly limits: PackageCacheLimits,
    private readonly logger: EngineLogger,
  ) {}

  /** The entry for `key`, checked and pinned, or null. A known repository UUID that differs from the entry's drops it. */
  async lookup(key: string, repositoryUuid: string | null = null): Promise<CachedPackage | null> {
    const record = await indexLocks.run(this.dir, async () => {
      const found = await this.readRecord(`${key}.json`);
      if (found === null) return null;
      if (repositoryUuid && found.repositoryUuid && found.repositoryUuid !== repositoryUuid) {
        await rm(join(this.dir, `${key}.json`), { force: true });
        return null;
      }
      this.pin(packageFile(found), 1);
      return found;
    });
    if (record === null) return null;
    const path = join(this.dir, packageFile(record));
    try {
      const size = (await stat(path)).size;
      if (size !== record.bytes || (await fileSha256(path)) !== record.sha256) throw new Error(`${size} bytes, expected ${record.bytes} with sha256 ${record.sha256}`);
      const manifest = JSON.parse(await readFile(join(this.dir, manifestFile(record)), 'utf8')) as ManifestEntry[];
      if (!Array.isArray(manifest) || manifest.length !== record.fileCount) throw new Error('its manifest does not match');
      const now = new Date();
      await utimes(join(this.dir, `${key}.json`), now, now).catch(() => undefined);
      return this.handOut(record, manifest);
    } catch (error) {
      this.pin(packageFile(record), -1);
      this.logger.warn({ key, err: error }, 'cached package is damaged; building it again');
      await indexLocks.run(this.dir, () => this.dropIfCurrent(record));
      return null;
    }
  }

  /** Builds a package with `build` (which writes the given file, its final name) and commits it as the entry for `key`, pinned. */
  async store(key: string, source: Pick<EntryRecord, 'url' | 'repositoryUuid' | 'revision' | 'selection' | 'exclude'>, build: (file: string) => Promise<PackResult>): Promise<CachedPackage> {
    await mkdir(this.dir, { recursive: true });
    const id = randomBytes(8).toString('hex');
    const temp = join(this.dir, `${TEMP_PREFIX}${id}.json`);
    const files = [packageFile({ key, id }), manifestFile({ key, id })].map((name) => join(this.dir, name));
    let committed = false;
    building.add(join(this.dir, id));
    try {
      const pack = await build(files[0]);
      const record: EntryRecord = {
        format: PACKAGE_FORMAT, key, id, ...source,
        sha256: pack.sha256, bytes: pack.bytes, fileCount: pack.fileCount, builtAt: Date.now(),
      };
      await writeFile(files[1], JSON.stringify(pack.manifest));
      await writeFile(temp, `${JSON.stringify(record)}\n`);
      await indexLocks.run(this.dir, async () => {
        await rename(temp, join(this.dir, `${key}.json`));
        this.pin(packageFile(record), 1);
        committed = true;
      });
      return this.handOut(record, pack.manifest);
    } finally {
      building.delete(join(this.dir, id));
      await Promise.all([temp, ...(committed ? [] : files)].map((file) => rm(file, { force: true })));
    }
  }

  /**
   * Deletes leftovers (temporary files of a crashed build, files no entry names), entries unused for longer than the
   * idle limit, then the least recently used entries until the cache is within its limits. Pinned packages stay.
   */
  async evict(now = Date.now()): Promise<void> {
    await indexLocks.run(this.dir, async () => {
      const names = await readdir(this.dir).catch(() => [] as string[]);
      const entries: { record: EntryRecord; lastUsed: number; bytes: number }[] = [];
      const named = new Set<string>();
      for (const name of names) {
        if (name.startsWith(TEMP_PREFIX) || !name.endsWith('.json') || name.endsWith('.manifest.json')) continue;
        const record = await this.readRecord(name);
        const files = record && (await Promise.all([packageFile(record), manifestFile(record)].map((file) => stat(join(this.dir, file)).catch(() => null))));
        const used = await stat(join(this.dir, name)).catch(() => null);
        if (!record || !files || files.includes(null) || !used) {
          await rm(join(this.dir, name), { force: true });
          continue;
        }
        named.add(packageFile(record)).add(manifestFile(record));
        entries.push({ record, lastUsed: used.mtimeMs, bytes: files.reduce((sum, file) => sum + (file?.size ?? 0), 0) });
      }
      for (const name of names) {
        const ours = name.startsWith(TEMP_PREFIX) || name.endsWith('.tar.gz') || name.endsWith('.manifest.json');
        const leftover = ours && !named.has(name) && !building.has(join(this.dir, idOf(name))) && !this.isPinned(name);
        if (leftover) await rm(join(this.dir, name), { force: true });
      }
      // Newest first: keep while within the limits; a pinned entry is kept whatever it costs.
      entries.sort((a, b) => b.lastUsed - a.lastUsed);
      let kept = 0;
      let keptBytes = 0;
      for (const entry of entries) {
        const pinned = this.isPinned(packageFile(entry.record));
        const fresh = now - entry.lastUsed <= this.limits.maxIdleMs;
        if (pinned || (fresh && kept < this.limits.entries && keptBytes + entry.bytes <= this.limits.bytes)) {
          kept++;
          keptBytes += entry.bytes;
        } else {
          await this.drop(entry.record);
          this.logger.info({ key: entry.record.key, revision: entry.record.revision, bytes: entry.bytes, idle: !fresh }, 'deleted a cached package');
        }
      }
    });
  }

  private handOut(record: EntryRecord, manifest: ManifestEntry[]): CachedPackage {
    let released = false;
    return {
      revision: record.revision,
      packagePath: join(this.dir, packageFile(record)),
      sha256: record.sha256,
      manifest,
      fileCount: record.fileCount,
      bytes: record.bytes,
      builtAt: new Date(record.builtAt),
      release: async () => {
        if (released) return;
        released = true;
        this.pin(packageFile(record), -1);
        await this.evict();
      },
    };
  }

  private pin(file: string, delta: 1 | -1): void {
    const path = join(this.dir, file);
    const count = (pins.get(path) ?? 0) + delta;
    if (count > 0) pins.set(path, count);
    else pins.delete(path);
  }

  private isPinned(file: string): boolean {
    return pins.has(join(this.dir, file));
  }

  /** The record in `name`, or null when missing; an unreadable or foreign one is deleted. */
  private async readRecord(name: string): Promise<EntryRecord | null> {
    const text = await readFile(join(this.dir, name), 'utf8').catch(() => null);
    if (text === null) return null;
    let record: unknown = null;
    try {
      record = JSON.parse(text);
    } catch {
      // deleted below
    }
    if (isEntryRecord(record) && `${record.key}.json` === name) return record;
    await rm(join(this.dir, name), { force: true });
    return null;
  }

  /** Removes an entry unless a newer build of its key replaced it meanwhile; its files go unless pinned. */
  private async dropIfCurrent(record: EntryRecord): Promise<void> {
    const current = await this.readRecord(`${record.key}.json`);
    if (current?.id === record.id) await this.drop(record);
  }

  /** Call with the index held. The record goes first, so nobody finds a half-deleted entry. */
  private async drop(record: EntryRecord): Promise<void> {
    await rm(join(this.dir, `${record.key}.json`), { force: true });
    if (!this.isPinned(packageFile(record))) await rm(join(this.dir, packageFile(record)), { force: true });
    await rm(join(this.dir, manifestFile(record)), { force: true });
  }
}
