// Packs an exported release directory into one portable .tar.gz plus a manifest (path, size, mode, sha256).
// Entries are written with tar's own Header/Pax encoders, streaming each file once: the same bytes feed the
// archive and the file's sha256, so the manifest always describes exactly what was archived. We don't use
// tar.create here because its `portable` mode rewrites modes (forces u+rw, drops g+w/o+w) and without it the
// archive carries uid/gid/owner names; this way modes are kept as they are and owners are left out.
//
// Compression adapts to the content: data that does not compress (zip/png/ogg assets, encrypted or already packed
// files) is stored at gzip level 0, which costs a copy instead of ~25 ms per MiB of futile deflate; everything else
// gets the configured level. The output is one ordinary gzip stream that any `tar -xz` reads. A release that is
// almost all incompressible (estimated from samples before packing, see packageCompression) is not gzipped at all:
// a plain tar, which GNU tar on the host recognises by itself; gunzip would only add its CRC pass (~5 ms per MiB on
// every host, more than half of extracting) to save under 5% of the bytes.
//
// Symbolic links are packed as links only when they resolve inside the release: a link that is absolute or climbs out
// (directly or through other links) is refused, so no publish can make a host write through it later.
//
// The release is either a whole directory (an export) or the selected part of a project's working copy
// (ReleaseSelection), which packs to the same entries, modes and checks as an export of that selection.
import { FerryError } from '../lib/errors.ts';
import { createHash } from 'node:crypto';
import { constants as fsConstants, createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGzip, deflateRawSync, type Gzip } from 'node:zlib';
import { Header, list, Pax, type ReadEntry } from 'tar';
import { PROJECT_ROOT } from './selection.ts';

export interface ManifestEntry {
  /** Relative, '/'-separated, no leading './'. */
  path: string;
  /** Bytes (0 for symbolic links). */
  size: number;
  /** Permission bits, e.g. 0o755 (as a number: 493). */
  mode: number;
  /** Hex sha256 of the content (of the link target text for symbolic links). */
  sha256: string;
  /** Target of a symbolic link; absent for regular files. */
  link?: string;
}

export interface PackResult {
  revision: number;
  /** Regular files and symbolic links, in archive order. Directories are in the archive but not listed. */
  manifest: ManifestEntry[];
  /** Hex sha256 of the package file. */
  sha256: string;
  /** Size of the package file. */
  bytes: number;
  /** Whether the package is gzipped (.tar.gz) or a plain tar; readers tell them apart by its first bytes anyway. */
  compression: PackageCompression;
  fileCount: number;
  /** Where the manifest JSON was written, or null when not asked to write one. */
  manifestFile: string | null;
}

export interface PackOptions {
  revision: number;
  /** Write the manifest (with revision and archive checksum) as JSON here; default `${outFile}.manifest.json`; false for none. */
  manifestFile?: string | false;
  /** gzip level 1-9 for compressible data, default 1 (fast; see DEFAULT_GZIP_LEVEL). Incompressible data is stored. */
  gzipLevel?: number;
  /** Pack only this part of srcDir (a working copy); default everything in it. */
  selection?: ReleaseSelection;
  /** 'auto' (default): plain tar when gzip would save under 5% of the bytes (packageCompression); 'gzip': always. */
  compression?: 'auto' | 'gzip';
  /** Called once the entries are checked and outFile exists, before anything is written, with the bytes of file content to pack. */
  onPlanned?: (contentBytes: number) => void;
}

/**
 * The release inside a directory that holds more, a project's working copy: the selected paths with everything below
 * them and the folders leading to them, never svn's own `.svn`. It packs to what an export of the selection packs to.
 */
export interface ReleaseSelection {
  /** Project-relative paths as normalizeSelection returns them. */
  paths: readonly string[];
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
  const leading = new Set<string>();
  for (const path of selection.paths) {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) leading.add(segments.slice(0, i).join('/'));
  }
  return (path) => {
    const segments = path.split('/');
    if (segments.includes(SVN_DIR_NAME)) return false;
    if (wholeProject || leading.has(path)) return true;
    for (let i = 1; i <= segments.length; i++) if (selected.has(segments.slice(0, i).join('/'))) return true;
    return false;
  };
}

/**
 * Level 1 by default: on compiled binaries it makes a package about 9% larger than level 6 at twice the speed
 * (86 vs 39 MiB/s on this project's benchmark machine), and packing runs before any upload starts, so a faster pack
 * wins on any link faster than about 10 Mbit/s.
 */
export const DEFAULT_GZIP_LEVEL = 1;

type PackageCompression = 'gzip' | 'none';

/** Below this estimated saving (share of the package's bytes) a package is a plain tar. */
const MIN_GZIP_SAVING = 0.05;
/** Samples read from each file of DECIDE_BYTES or more to estimate how well it compresses. */
const SAMPLES_PER_FILE = 4;
/** What files too small to sample are assumed to save (configs and scripts: text, which gzip halves or better). */
const SMALL_FILE_SAVING = 0.5;

/**
 * Whether gzip pays for this release: each file of 64 KiB or more is judged by up to four 16 KiB samples spread over
 * it (deflated at level 1, as looksCompressible does), smaller ones are assumed to halve. A few ms for a 1 GiB build.
 */
async function packageCompression(entries: readonly { type: string; size: number; absolute: string }[]): Promise<PackageCompression> {
  let total = 0;
  let saving = 0;
  for (const entry of entries) {
    if (entry.type !== 'File' || entry.size === 0) continue;
    total += entry.size + BLOCK;
    if (entry.size < DECIDE_BYTES) {
      saving += entry.size * SMALL_FILE_SAVING;
      continue;
    }
    saving += entry.size * (await sampledSaving(entry.absolute, entry.size));
  }
  return total > 0 && saving >= total * MIN_GZIP_SAVING ? 'gzip' : 'none';
}

async function sampledSaving(file: string, size: number): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const sample = Buffer.alloc(SAMPLE_BYTES);
    let raw = 0;
    let packed = 0;
    for (let i = 0; i < SAMPLES_PER_FILE; i++) {
      const position = Math.floor(((size - SAMPLE_BYTES) * (2 * i + 1)) / (2 * SAMPLES_PER_FILE));
      const { bytesRead } = await handle.read(sample, 0, SAMPLE_BYTES, position);
      if (bytesRead === 0) break;
      raw += bytesRead;
      packed += deflateRawSync(sample.subarray(0, bytesRead), { level: 1 }).length;
    }
    return raw === 0 ? 0 : Math.max(0, 1 - packed / raw);
  } finally {
    await handle.close();
  }
}

/** The release cannot be packed as it is (a link out of it, a special file, an odd name): the content must change. */
export class PackError extends FerryError {
  constructor(message: string) {
    super('refused', message);
    this.name = 'PackError';
  }
}

type EntryType = 'File' | 'Directory' | 'SymbolicLink';

interface PlannedEntry {
  path: string;
  absolute: string;
  type: EntryType;
  size: number;
  mode: number;
  mtime: Date;
  link?: string;
}

const BLOCK = 512;
const READ_CHUNK = 1024 * 1024;

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
async function planEntries(root: string, selection?: ReleaseSelection): Promise<PlannedEntry[]> {
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

/** The header block(s) of one entry: a pax header first when names or sizes do not fit ustar. */
function headerBlocks(entry: PlannedEntry): Buffer[] {
  const path = entry.type === 'Directory' ? `${entry.path}/` : entry.path;
  const data = { path, mode: entry.mode, size: entry.size, mtime: entry.mtime, type: entry.type, linkpath: entry.link ?? '', uname: '', gname: '' };
  const header = new Header(data);
  const blocks: Buffer[] = [];
  if (header.encode()) blocks.push(new Pax({ path, linkpath: entry.link, size: entry.size, mtime: entry.mtime }).encode());
  if (!header.block) throw new PackError(`could not encode the tar header of "${entry.path}"`);
  blocks.push(header.block);
  return blocks;
}

/**
 * Whether a chunk of file content is worth deflating: a 16 KiB sample from its middle is deflated at level 1 and
 * must shrink by at least 3%. About 0.4 ms per MiB, against ~25 ms per MiB for deflating random data in full.
 */
export function looksCompressible(chunk: Buffer): boolean {
  if (chunk.length < 4096) return true;
  const size = Math.min(SAMPLE_BYTES, chunk.length);
  const start = Math.floor((chunk.length - size) / 2);
  const sample = chunk.subarray(start, start + size);
  return deflateRawSync(sample, { level: 1 }).length < size * 0.97;
}
const SAMPLE_BYTES = 16 * 1024;
/** Smaller pieces of content do not switch between compressing and storing (no member per small file). */
const DECIDE_BYTES = 64 * 1024;

/** One piece of the tar stream; `content` marks file data (compressed or stored by looksCompressible). */
interface TarPiece {
  data: Buffer;
  content: boolean;
}

/**
 * The .tar.gz as a series of gzip members (RFC 1952 allows any number; gzip, GNU tar and Node read them
 * as one stream): a new member starts when the content switches between compressible and not. Zlib#params cannot
 * do this: Node ignores deflateParams' Z_BUF_ERROR, so the level silently stays as it was. Small pieces (tar headers,
 * small files) never cause a switch; they go into the current member. Backpressure is kept end to end.
 */
class AdaptiveGzipFile {
  private member: Gzip | null = null;
  private memberLevel = -1;
  private failure: Error | null = null;
  private readonly file: WriteStream;
  private readonly closed: Promise<void>;
  /** The pending drain/end wait, rejected at once by abort(). */
  private waiter: ((err: Error) => void) | null = null;

  /** `level` null: no gzip at all, the tar goes to the file as it is. */
  constructor(outFile: string, private readonly level: number | null, private readonly onOutput: (chunk: Buffer) => void) {
    this.file = createWriteStream(outFile);
    this.file.on('error', (err) => this.abort(err));
    this.closed = new Promise<void>((resolve, reject) => this.file.on('close', () => (this.failure ? reject(this.failure) : resolve())));
    this.closed.catch(() => undefined);
  }

  /** Resolves once the output file exists (or rejects when it cannot be created). */
  opened(): Promise<void> {
    if (this.file.pending === false) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.file.once('ready', resolve);
      this.closed.catch(reject);
    });
  }

  /** Writes one piece; file content of 64 KiB or more picks the member's level (0 when it does not compress). */
  async write(piece: TarPiece): Promise<void> {
    this.check();
    if (this.level === null) {
      this.onOutput(piece.data);
      if (!this.file.write(piece.data)) await this.drained();
      return;
    }
    let wanted = this.memberLevel < 0 ? this.level : this.memberLevel;
    if (piece.content && piece.data.length >= DECIDE_BYTES) wanted = looksCompressible(piece.data) ? this.level : 0;
    if (this.member === null || wanted !== this.memberLevel) {
      await this.endMember();
      this.startMember(wanted);
    }
    if (!this.member!.write(piece.data)) await this.settled(this.member!, 'drain');
  }

  async finish(): Promise<void> {
    await this.endMember();
    this.check();
    this.file.end();
    await this.closed;
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        this.file.off('drain', onDrain);
        this.waiter = null;
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      this.file.once('drain', onDrain);
      this.waiter = done;
      if (this.failure) done(this.failure);
    });
  }

  private startMember(level: number): void {
    // 256 KiB output chunks: with the default 16 KiB, stored data costs ~4 ms per MiB in stream overhead alone.
    const gzip = createGzip({ level, chunkSize: 256 * 1024 });
    gzip.on('data', (chunk: Buffer) => {
      this.onOutput(chunk);
      if (!this.file.write(chunk)) {
        gzip.pause();
        this.file.once('drain', () => gzip.resume());
      }
    });
    gzip.on('error', (err) => this.abort(err));
    this.member = gzip;
    this.memberLevel = level;
  }

  private async endMember(): Promise<void> {
    const gzip = this.member;
    if (gzip === null) return;
    this.member = null;
    gzip.end();
    await this.settled(gzip, 'end');
  }

  /** Waits for `event` on a member, or rejects as soon as anything failed (a failed file never drains). */
  private settled(gzip: Gzip, event: 'drain' | 'end'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        gzip.off(event, onEvent);
        this.waiter = null;
        if (err) reject(err);
        else resolve();
      };
      const onEvent = () => done();
      gzip.once(event, onEvent);
      this.waiter = done;
      if (this.failure) done(this.failure);
    });
  }

  /** Stops on the first failure (writing, compressing, or reading a file elsewhere): the partial output is abandoned. */
  abort(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.member?.destroy();
    this.file.destroy();
    this.waiter?.(err);
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}

/** Streams the tar (uncompressed) and fills `manifest` as files go by. */
async function* tarStream(entries: PlannedEntry[], manifest: ManifestEntry[]): AsyncGenerator<TarPiece> {
  const meta = (data: Buffer): TarPiece => ({ data, content: false });
  for (const entry of entries) {
    for (const block of headerBlocks(entry)) yield meta(block);
    if (entry.type === 'SymbolicLink') {
      const sha256 = createHash('sha256').update(entry.link ?? '').digest('hex');
      manifest.push({ path: entry.path, size: 0, mode: entry.mode, sha256, link: entry.link });
    }
    if (entry.type !== 'File') continue;
    const hash = createHash('sha256');
    let read = 0;
    if (entry.size > 0) {
      // Read exactly the size in the header; a file that grew meanwhile must not corrupt the archive.
      const stream = createReadStream(entry.absolute, { start: 0, end: entry.size - 1, highWaterMark: READ_CHUNK });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        read += chunk.length;
        yield { data: chunk, content: true };
      }
    }
    if (read !== entry.size) throw new PackError(`"${entry.path}" changed while it was being packed`);
    const padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (padding) yield meta(Buffer.alloc(padding));
    manifest.push({ path: entry.path, size: entry.size, mode: entry.mode, sha256: hash.digest('hex') });
  }
  yield meta(Buffer.alloc(BLOCK * 2));
}

/**
 * Copies the release (all of root, or its selected part) into destDir, checked as packing checks it, so that
 * before-publish hooks can change it without touching root. Modes are kept; times are the copy's, as an export's are.
 */
export async function copyRelease(root: string, destDir: string, selection?: ReleaseSelection): Promise<void> {
  const entries = await planEntries(root, selection);
  await mkdir(destDir, { recursive: true });
  const dirs: PlannedEntry[] = [];
  for (const entry of entries) {
    const target = join(destDir, entry.path);
    if (entry.type === 'Directory') {
      await mkdir(target);
      dirs.push(entry);
    } else if (entry.type === 'File') {
      await copyFile(entry.absolute, target, fsConstants.COPYFILE_FICLONE);
      await chmod(target, entry.mode);
    } else {
      await symlink(entry.link ?? '', target);
    }
  }
  // Folder modes last, so that a read-only folder does not stop its own contents from being copied.
  for (const dir of dirs.reverse()) await chmod(join(destDir, dir.path), dir.mode);
}

/**
 * Packs everything inside srcDir (not srcDir itself), or its `opts.selection` part, into outFile as a tar (gzipped
 * unless gzip would not pay, see packageCompression) with sorted, relative entries, original permission bits and mtimes, and no owner information. Streams
 * throughout, so file size does not affect memory use.
 */
export async function packDirectory(srcDir: string, outFile: string, opts: PackOptions): Promise<PackResult> {
  const entries = await planEntries(srcDir, opts.selection);
  const compression = opts.compression === 'gzip' ? 'gzip' : await packageCompression(entries);
  const manifest: ManifestEntry[] = [];
  const archiveHash = createHash('sha256');
  let bytes = 0;
  const out = new AdaptiveGzipFile(outFile, compression === 'gzip' ? (opts.gzipLevel ?? DEFAULT_GZIP_LEVEL) : null, (chunk) => {
    archiveHash.update(chunk);
    bytes += chunk.length;
  });
  try {
    if (opts.onPlanned) {
      await out.opened();
      opts.onPlanned(entries.reduce((sum, entry) => sum + entry.size, 0));
    }
    for await (const piece of tarStream(entries, manifest)) await out.write(piece);
    await out.finish();
  } catch (err) {
    out.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  const sha256 = archiveHash.digest('hex');

  const manifestFile = opts.manifestFile === false ? null : (opts.manifestFile ?? `${outFile}.manifest.json`);
  if (manifestFile) {
    const document = { revision: opts.revision, archiveSha256: sha256, archiveBytes: bytes, compression, fileCount: manifest.length, files: manifest };
    await writeFile(manifestFile, `${JSON.stringify(document, null, 2)}\n`);
  }
  return { revision: opts.revision, manifest, sha256, bytes, compression, fileCount: manifest.length, manifestFile };
}

interface TarEntryInfo {
  path: string;
  type: string;
  size: number;
  mode: number;
  mtime: Date | null;
  uid: number | null;
  gid: number | null;
  uname: string | null;
  gname: string | null;
  linkpath: string | null;
}

/** Lists a (gzipped) tar's entries in archive order, without extracting. */
export async function listTarEntries(file: string): Promise<TarEntryInfo[]> {
  const entries: TarEntryInfo[] = [];
  await list({
    file,
    onReadEntry: (entry: ReadEntry) => {
      entries.push({
        path: entry.path,
        type: entry.type,
        size: entry.size ?? 0,
        mode: (entry.mode ?? 0) & 0o7777,
        mtime: entry.mtime ?? null,
        uid: entry.uid ?? null,
        gid: entry.gid ?? null,
        uname: entry.uname || null,
        gname: entry.gname || null,
        linkpath: entry.linkpath || null,
      });
    },
  });
  return entries;
}

/** Bytes of the regular files under `root` (links not followed): what a package of it will roughly weigh. */
export async function treeBytes(root: string): Promise<number> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  let total = 0;
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  for (let i = 0; i < files.length; i += 256) {
    const sizes = await Promise.all(files.slice(i, i + 256).map((f) => lstat(f).then((s) => s.size, () => 0)));
    for (const size of sizes) total += size;
  }
  return total;
}
