// Packs an exported release directory into one portable .tar.gz plus a manifest (path, size, mode, sha256).
// Entries are written with tar's own Header/Pax encoders, streaming each file once: the same bytes feed the
// archive and the file's sha256, so the manifest always describes exactly what was archived. We don't use
// tar.create here because its `portable` mode rewrites modes (forces u+rw, drops g+w/o+w) and without it the
// archive carries uid/gid/owner names; this way modes are kept as they are and owners are left out.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Header, list, Pax, type ReadEntry } from 'tar';

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
  /** Hex sha256 of the .tar.gz file. */
  sha256: string;
  /** Size of the .tar.gz file. */
  bytes: number;
  fileCount: number;
  /** Where the manifest JSON was written, or null when not asked to write one. */
  manifestFile: string | null;
}

export interface PackOptions {
  revision: number;
  /** Write the manifest (with revision and archive checksum) as JSON here; default `${outFile}.manifest.json`; false for none. */
  manifestFile?: string | false;
  /** gzip level 1-9, default 6. */
  gzipLevel?: number;
}

export class PackError extends Error {
  constructor(message: string) {
    super(message);
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

/** Sorted, depth-first walk: a directory, then its contents. */
async function planEntries(root: string, relative = ''): Promise<PlannedEntry[]> {
  const names = (await readdir(join(root, relative))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const planned: PlannedEntry[] = [];
  for (const name of names) {
    const path = relative ? `${relative}/${name}` : name;
    const absolute = join(root, path);
    const stat = await lstat(absolute);
    const common = { path, absolute, mode: stat.mode & 0o7777, mtime: stat.mtime };
    if (stat.isDirectory()) {
      planned.push({ ...common, type: 'Directory', size: 0 });
      planned.push(...(await planEntries(root, path)));
    } else if (stat.isFile()) {
      planned.push({ ...common, type: 'File', size: stat.size });
    } else if (stat.isSymbolicLink()) {
      planned.push({ ...common, type: 'SymbolicLink', size: 0, link: await readlink(absolute) });
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

/** Streams the tar (uncompressed) and fills `manifest` as files go by. */
async function* tarStream(entries: PlannedEntry[], manifest: ManifestEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield* headerBlocks(entry);
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
        yield chunk;
      }
    }
    if (read !== entry.size) throw new PackError(`"${entry.path}" changed while it was being packed`);
    const padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (padding) yield Buffer.alloc(padding);
    manifest.push({ path: entry.path, size: entry.size, mode: entry.mode, sha256: hash.digest('hex') });
  }
  yield Buffer.alloc(BLOCK * 2);
}

/**
 * Packs everything inside srcDir (not srcDir itself) into outFile as a gzip-compressed tar with sorted,
 * relative entries, original permission bits and mtimes, and no owner information. Streams throughout,
 * so file size does not affect memory use.
 */
export async function packDirectory(srcDir: string, outFile: string, opts: PackOptions): Promise<PackResult> {
  const entries = await planEntries(srcDir);
  const manifest: ManifestEntry[] = [];
  const archiveHash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      archiveHash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(
    Readable.from(tarStream(entries, manifest), { objectMode: false }),
    createGzip({ level: opts.gzipLevel ?? 6 }),
    measure,
    createWriteStream(outFile),
  );
  const sha256 = archiveHash.digest('hex');

  const manifestFile = opts.manifestFile === false ? null : (opts.manifestFile ?? `${outFile}.manifest.json`);
  if (manifestFile) {
    const document = { revision: opts.revision, archiveSha256: sha256, archiveBytes: bytes, fileCount: manifest.length, files: manifest };
    await writeFile(manifestFile, `${JSON.stringify(document, null, 2)}\n`);
  }
  return { revision: opts.revision, manifest, sha256, bytes, fileCount: manifest.length, manifestFile };
}

export interface TarEntryInfo {
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
