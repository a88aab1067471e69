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
import { createHash } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Header, list, Pax, type ReadEntry } from 'tar';
import { AdaptiveGzipFile, DEFAULT_GZIP_LEVEL, packageCompression, type PackageCompression, type TarPiece } from './compress.ts';
import { PackError, planEntries, type PlannedEntry, type ReleaseSelection } from './plan.ts';

export { DEFAULT_GZIP_LEVEL, looksCompressible } from './compress.ts';
export { PackError, type ReleaseSelection } from './plan.ts';

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
  /**
   * Called once the entries are checked and outFile exists, before anything is written, with the bytes of file content
   * to pack and the paths of its regular files (what the drift check needs before the package is complete).
   */
  onPlanned?: (contentBytes: number, files: readonly string[]) => void;
}


const BLOCK = 512;
const READ_CHUNK = 1024 * 1024;
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
      opts.onPlanned(entries.reduce((sum, entry) => sum + entry.size, 0), entries.filter((entry) => entry.type === 'File').map((entry) => entry.path));
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

