// Compression that adapts to the content: gzip per member, stored where a sample shows it does not shrink, and no
// gzip at all for a release that is almost all incompressible (packageCompression).
import { createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGzip, deflateRawSync, type Gzip } from 'node:zlib';

const TAR_BLOCK = 512;

/**
 * Level 1 by default: on compiled binaries it makes a package about 9% larger than level 6 at twice the speed
 * (86 vs 39 MiB/s on this project's benchmark machine), and packing runs before any upload starts, so a faster pack
 * wins on any link faster than about 10 Mbit/s.
 */
export const DEFAULT_GZIP_LEVEL = 1;

export type PackageCompression = 'gzip' | 'none';

/** Below this estimated saving (share of the package's bytes) a package is a plain tar. */
const MIN_GZIP_SAVING = 0.05;
/** Samples read from each file of DECIDE_BYTES or more to estimate how well it compresses. */
const SAMPLES_PER_FILE = 4;
/** What files too small to sample are assumed to save (configs and scripts: text, which gzip halves or better). */
const SMALL_FILE_SAVING = 0.5;
/**
 * A package this small is a plain tar whatever it holds: a few KiB more per host cost nothing, while un-gzipping is
 * one more process on every host (2-4 ms of a small VM's CPU, per host and publish), for the everyday config push.
 */
const ALWAYS_PLAIN_BYTES = 64 * 1024;

/**
 * Whether gzip pays for this release: each file of 64 KiB or more is judged by up to four 16 KiB samples spread over
 * it (deflated at level 1, as looksCompressible does), smaller ones are assumed to halve. A few ms for a 1 GiB build.
 * A package under ALWAYS_PLAIN_BYTES is never gzipped.
 */
export async function packageCompression(entries: readonly { type: string; size: number; absolute: string }[]): Promise<PackageCompression> {
  let total = 0;
  let saving = 0;
  for (const entry of entries) {
    if (entry.type !== 'File' || entry.size === 0) continue;
    total += entry.size + TAR_BLOCK;
    if (entry.size < DECIDE_BYTES) {
      saving += entry.size * SMALL_FILE_SAVING;
      continue;
    }
    saving += entry.size * (await sampledSaving(entry.absolute, entry.size));
  }
  return total > ALWAYS_PLAIN_BYTES && saving >= total * MIN_GZIP_SAVING ? 'gzip' : 'none';
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
export interface TarPiece {
  data: Buffer;
  content: boolean;
}

/**
 * The .tar.gz as a series of gzip members (RFC 1952 allows any number; gzip, GNU tar and Node read them
 * as one stream): a new member starts when the content switches between compressible and not. Zlib#params cannot
 * do this: Node ignores deflateParams' Z_BUF_ERROR, so the level silently stays as it was. Small pieces (tar headers,
 * small files) never cause a switch; they go into the current member. Backpressure is kept end to end.
 */
export class AdaptiveGzipFile {
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

