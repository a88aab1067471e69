// Where a release's package comes from: reused from the package cache when the same SVN URL, revision and selection
// was packed before, else packed from the project's own working copy, which an update brings to the revision by
// fetching only what changed (working-copy.ts, package-cache.ts). Everything lives under one cache directory,
// bounded by RELEASE_CACHE (src/config.ts), and can be deleted while no job runs.
import { FerryError } from '../lib/errors.ts';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { RELEASE_CACHE } from '../config.ts';
import type { RunFile } from '../lib/exec.ts';
import { KeyedMutex } from '../lib/keyed-mutex.ts';
import { packageKey, PackageCache, type CachedPackage, type PackageHandle } from './package-cache.ts';
import { copyRelease, packDirectory, type PackOptions, type PackResult, type ReleaseSelection } from './pack/index.ts';
import { normalizeRelease, normalizeSelection, type NormalizedRelease } from './selection.ts';
import { checkRevision, SvnClient, type SvnClientOptions, type SvnRepository } from './svn/index.ts';
import type { EngineLogger } from './types.ts';
import { WorkingCopies, type WorkingCopyLease } from './working-copy.ts';

export interface ReleaseSourceLimits {
  /** Total bytes of cached packages. */
  packageBytes: number;
  /** Most cached packages. */
  packageEntries: number;
  /** A cached package unused for this long is deleted. */
  packageMaxIdleMs: number;
  /** Most projects with a working copy. */
  workingCopies: number;
  /** Total bytes of the working copies. */
  workingCopyBytes: number;
}

interface ReleaseSourceOptions {
  runFile: RunFile;
  logger: EngineLogger;
  /** The cache's home, normally <FERRY_DATA_DIR>/cache: working copies in svn/, packages in packages/. */
  cacheDir: string;
  /** Default RELEASE_CACHE from src/config.ts. */
  limits?: Partial<ReleaseSourceLimits>;
  /** Passed to every SvnClient (tests point svn at a private config dir or binary). */
  svn?: Pick<SvnClientOptions, 'svnBinary' | 'configDir' | 'timeoutMs' | 'exportTimeoutMs'>;
}

export interface PrepareRequest {
  /** Stable per project (e.g. its id): names its working copy. */
  projectKey: string;
  svn: SvnRepository;
  /** Undefined: HEAD, resolved once so that every path comes from the same revision. */
  revision?: number;
  /** Project-relative paths, as for SvnClient.exportSelection. */
  files: readonly string[];
  /** Paths inside selected folders to leave out ("this folder except these"), as for normalizeRelease. */
  exclude?: readonly string[];
  /** A per-job directory the caller removes afterwards: a hook's copy and its package are made here. */
  workDir: string;
  /**
   * Before-publish hooks: run in a writable copy of the selection (never the working copy), before packing. With them
   * the package is neither taken from nor stored in the cache, since a hook may change anything.
   */
  beforePublish?: (exportDir: string, revision: number) => Promise<void>;
  /** Progress lines for the job log, e.g. "updated the working copy to r12 (3 paths changed)". */
  onStep?: (text: string) => void;
  /**
   * Called when a package starts being written (never for a reused one), so that uploads can read it while it grows
   * (PackageFeed.growing in release/feed.ts); prepare() itself resolves once the package is complete and committed.
   */
  onPacking?: (packing: PackingStarted) => void;
}

export interface PackingStarted {
  /** The revision being packed (HEAD resolved). */
  revision: number;
  /** The package's final path (the same as PreparedPackage.packagePath). */
  packagePath: string;
  /** Bytes of file content going into it: a size estimate before it is compressed. */
  sizeHint: number;
  /** The paths of its regular files, known before they are packed. */
  files: readonly string[];
  /** Settles when the package is complete (or packing failed). */
  done: Promise<PackResult>;
}

/** revision, packagePath, sha256, manifest, fileCount, bytes, release() (call it once the hosts are done), and: */
export interface PreparedPackage extends PackageHandle {
  /** Taken from the package cache: nothing was fetched or packed. */
  reused: boolean;
}

/** The cache directory cannot be written (full disk, permissions): said plainly, with what the operator can do. */
/** The release cache on the Ferry server cannot be used (disk full, permissions): Ferry cannot prepare releases now. */
export class ReleaseCacheError extends FerryError {
  constructor(message: string) {
    super('unavailable', message);
    this.name = 'ReleaseCacheError';
  }
}

const DISK_ERRORS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
};

/** Turns a failed file operation into a ReleaseCacheError naming the file; anything else is passed on. */
function plainDiskError(error: unknown, cacheDir: string, place: string): unknown {
  const { code, path } = (error ?? {}) as NodeJS.ErrnoException;
  if (typeof code !== 'string' || !(code in DISK_ERRORS)) return error;
  const remedy = code === 'ENOSPC' || code === 'EDQUOT'
    ? `free some space; ${cacheDir} holds caches that may be deleted while no job runs`
    : `check the owner and permissions of ${cacheDir}`;
  return new ReleaseCacheError(`Ferry cannot write ${path ?? place} (${DISK_ERRORS[code]}): ${remedy}.`);
}

function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'less than a minute ago';
  if (minutes < 120) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.floor(hours / 24)} days ago`;
}

/** One build per package (by path) at a time, so a second job for the same package waits and then reuses it. */
const packageBuilds = new KeyedMutex();

export class ReleaseSource {
  private readonly workingCopies: WorkingCopies;
  private readonly packages: PackageCache;
  private readonly packagesDir: string;
  private readonly svnDir: string;

  constructor(private readonly opts: ReleaseSourceOptions) {
    const limits = { ...RELEASE_CACHE, ...opts.limits };
    this.svnDir = resolve(opts.cacheDir, 'svn');
    this.packagesDir = resolve(opts.cacheDir, 'packages');
    this.workingCopies = new WorkingCopies(this.svnDir, { count: limits.workingCopies, bytes: limits.workingCopyBytes }, opts.logger);
    this.packages = new PackageCache(this.packagesDir, { bytes: limits.packageBytes, entries: limits.packageEntries, maxIdleMs: limits.packageMaxIdleMs }, opts.logger);
  }

  /**
   * A package of `files` at `revision`: reused from the package cache when the same repository URL, revision and
   * normalized selection was packed before (and no before-publish hook may change the files), else packed from the
   * project's working copy. Throws SvnError (SVN refused or lacks something), PackError (a tree Ferry refuses to
   * publish), SelectionError, or ReleaseCacheError.
   */
  async prepare(req: PrepareRequest): Promise<PreparedPackage> {
    const release = normalizeRelease(req.files, req.exclude ?? []);
    // The working copy fetches the top-most selected folders in full; files ticked again inside exclusions are in them.
    const selection = normalizeSelection(release.files);
    const step = req.onStep ?? (() => undefined);
    const client = new SvnClient(req.svn, this.opts.runFile, { ...this.opts.svn, logger: this.opts.logger });
    let revision: number;
    let headUuid: string | null = null;
    if (req.revision === undefined) {
      const head = await client.info('HEAD');
      revision = head.revision;
      headUuid = head.repositoryUuid;
    } else {
      revision = Number(checkRevision(req.revision));
    }
    await this.checkWritable();
    if (req.beforePublish) return this.prepareForHooks(req, req.beforePublish, client, revision, selection, release, step);

    // Without exclusions release.files is the selection itself.
    const key = packageKey(client.projectUrl, revision, release.files, release.exclude);
    const prepared = await packageBuilds.run(join(this.packagesDir, key), async () => {
      const cached = await this.packages.lookup(key, headUuid);
      if (cached) {
        step(`reusing the package of r${revision} built ${formatAge(Date.now() - cached.builtAt.getTime())}`);
        return { ...this.asPrepared(cached), reused: true };
      }
      const built = await this.inCache(this.packagesDir, () =>
        this.workingCopies.use(req.projectKey, client, revision, selection, step, (lease) =>
          this.packages.store(key, { url: client.projectUrl, repositoryUuid: lease.repositoryUuid, revision, selection, ...(release.exclude.length ? { exclude: release.exclude } : {}) }, (file) =>
            packNoticed(lease.dir, file, { revision, manifestFile: false, selection: releaseSelection(release, lease) }, req.onPacking),
          ),
        ),
      );
      return { ...this.asPrepared(built), reused: false };
    });
    await this.packages.evict().catch((error: unknown) => this.opts.logger.warn({ err: error }, 'could not trim the package cache'));
    this.opts.logger.info({ projectKey: req.projectKey, revision, reused: prepared.reused, files: prepared.fileCount, bytes: prepared.bytes }, 'release package ready');
    return prepared;
  }

  /** Copies the selection out of the working copy for the hooks, then packs the copy into workDir; nothing is cached. */
  private async prepareForHooks(req: PrepareRequest, beforePublish: NonNullable<PrepareRequest['beforePublish']>, client: SvnClient, revision: number, selection: string[], release: NormalizedRelease, step: (text: string) => void): Promise<PreparedPackage> {
    const exportDir = join(req.workDir, 'export');
    await this.inCache(req.workDir, () =>
      this.workingCopies.use(req.projectKey, client, revision, selection, step, (lease) => copyRelease(lease.dir, exportDir, releaseSelection(release, lease))),
    );
    await beforePublish(exportDir, revision);
    const packagePath = join(req.workDir, `release-r${revision}.tar.gz`);
    const pack = await this.inCache(req.workDir, () => packNoticed(exportDir, packagePath, { revision, manifestFile: false }, req.onPacking));
    return { revision, packagePath, sha256: pack.sha256, manifest: pack.manifest, fileCount: pack.fileCount, bytes: pack.bytes, reused: false, release: async () => undefined };
  }

  private asPrepared(cached: CachedPackage): PackageHandle {
    const { builtAt: _builtAt, ...handle } = cached;
    return handle;
  }

  /** Creates the cache directories, or says plainly why they cannot be written. */
  private async checkWritable(): Promise<void> {
    try {
      // The cache itself one level at a time: a recursive mkdir on a read-only file system reports ENOENT, not EROFS.
      await mkdir(dirname(this.opts.cacheDir), { recursive: true }).catch(() => undefined);
      for (const dir of [this.opts.cacheDir, this.svnDir, this.packagesDir]) {
        await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
        await access(dir, fsConstants.W_OK);
      }
    } catch (error) {
      throw plainDiskError(error, this.opts.cacheDir, this.opts.cacheDir);
    }
  }

  private async inCache<T>(place: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw plainDiskError(error, this.opts.cacheDir, place);
    }
  }
}

/** packDirectory, telling `onPacking` where the package grows once its entries are checked. */
function packNoticed(srcDir: string, file: string, opts: PackOptions, onPacking: PrepareRequest['onPacking']): Promise<PackResult> {
  if (!onPacking) return packDirectory(srcDir, file, opts);
  // onPlanned runs after packDirectory's first await, when `done` is already assigned.
  const done: Promise<PackResult> = packDirectory(srcDir, file, { ...opts, onPlanned: (sizeHint, files) => onPacking({ revision: opts.revision, packagePath: file, sizeHint, files, done }) });
  return done;
}

function releaseSelection(release: NormalizedRelease, lease: WorkingCopyLease): ReleaseSelection {
  return { paths: release.files, exclude: release.exclude, restoreWriteBits: lease.writeBits };
}
