// What Ferry and the release program on a host say to each other over the one SSH command of a publish.
//
// Ferry -> host (the command's stdin):
//   "ferry-release 2\n"                                    the header, read with `read`
//   "check <refuse|overwrite> <skip|keep> <n>\n" + n bytes  the drift check (steps/drift.ts): per file of the package
//                                                          Ferry recorded on this host, "<sha256> <path>\n"; `skip`
//                                                          when the host may answer "unchanged" and read no further
//   (a relay stores what follows once and feeds it to each of its hosts after Ferry's prelude above)
//   frames "<n>\n" + n bytes of the package, ..., "0\n"     each frame read with `head -c n` (exact on a pipe); Ferry
//                                                          sends what is on disk while the packer is still writing
//   "<sha256> <size> <list bytes>\n"                       the trailer: what the host must have received
//   <list bytes>: the manifest, one path per line, a line "/", then every path to look at for the snapshot
//                 (manifest paths and their parent directories, deepest first)
//   ... later, once Ferry has recorded the snapshot durably: "go\n" (or anything else: stop, change nothing)
// Host -> Ferry (stdout): lines starting with MARK, one per step and result; tar's complaints go to stderr.
// Paths travel as lines: pack.ts refuses names with control characters, so a newline cannot be part of one.
import { FerryError } from '../../lib/errors.ts';
import { Readable } from 'node:stream';
import { open, type FileHandle } from 'node:fs/promises';
import type { PackageFeed, PackageInfo } from './feed.ts';
import { packageChunks } from './chunk-pool.ts';

export const MARK = 'ferry:';
export const WIRE_VERSION = 2;
/** Separates the manifest from the snapshot candidates in the list section; never a manifest path (those are relative). */
export const LIST_SEPARATOR = '/';

/** Exit codes of the release program, one range per step; OUTSIDE_LINK_EXIT (19, remote.ts) is a refused link. */
export const EXIT = {
  extractFailed: 3,
  // 10 and 12 (checking, moving the package) are no longer used: verify.ts reads the sum and size without a process.
  damaged: 11,
  lookingAtFiles: 14,
  writingSnapshot: 15,
  writingJournal: 16,
  savingSnapshot: 17,
  notConfirmed: 18,
  drifted: 20,
  protocol: 30,
  writingPackage: 31,
  creatingDirs: 32,
  snapshotsMissing: 40,
  noDeployDir: 41,
} as const;

/** The lists the host needs before it can take the snapshot: the manifest and the paths to look at. */
export function listSection(manifest: readonly string[], candidates: readonly string[]): Buffer {
  return Buffer.from([...manifest, LIST_SEPARATOR, ...candidates].map((p) => `${p}\n`).join(''), 'utf8');
}

/**
 * Reads of the package per host. Bigger reads cost less CPU per byte: the same 256 MiB down one exec channel takes
 * ~1.0-1.5 CPU-s in 64 KiB reads and ~0.9 in 256 KiB or 1 MiB ones (ssh2, measured). With 50 hosts at once every
 * KiB held per host counts, so all hosts together read at most READ_AHEAD_BUDGET ahead, 64 KiB each at least:
 * 256 KiB reads up to 16 hosts at once, 64 KiB from 32 on (128 KiB for 50 hosts took the 64-host fleet from 183 to
 * 200 MiB peak RSS).
 */
const MAX_READ_CHUNK_BYTES = 256 * 1024;
const MIN_READ_CHUNK_BYTES = 64 * 1024;
const READ_AHEAD_BUDGET = 4 * 1024 * 1024;

/** The read size per host when `hostsAtOnce` hosts receive the package at the same time. */
export function readChunkBytes(hostsAtOnce: number): number {
  const share = Math.floor(READ_AHEAD_BUDGET / Math.max(1, hostsAtOnce) / MIN_READ_CHUNK_BYTES) * MIN_READ_CHUNK_BYTES;
  return Math.min(MAX_READ_CHUNK_BYTES, Math.max(MIN_READ_CHUNK_BYTES, share));
}
/** Frames are at least this big while the package is still being written (each costs a `head` on the host). */
const MIN_FRAME_BYTES = 1024 * 1024;

export interface WireOptions {
  feed: PackageFeed;
  /** The lists for a complete package (listSection of its manifest). */
  lists: (info: PackageInfo) => Buffer;
  /** Bytes of the package handed to SSH so far, and the (expected) total. */
  onProgress?: (sent: number, total: number) => void;
  /** Read size, readChunkBytes(hosts at once); default the largest. */
  readChunkBytes?: number;
}

/** What a host checks before it receives anything (steps/drift.ts). */
export interface DriftCheck {
  /** The recorded sha256 of each file of the package Ferry put on this host. */
  records: readonly { path: string; sha256: string }[];
  /** Go on over hand edits (they are still reported). */
  overwrite: boolean;
  /** Every file of the package is recorded as in place: the host may answer "unchanged" and stop there. */
  mayBeUnchanged: boolean;
}

/** The header and the drift check: what every host reads first, per host (a relay feeds the package after it). */
export function wirePrelude(check: DriftCheck | null): Buffer {
  const records = Buffer.from((check?.records ?? []).map((r) => `${r.sha256.toLowerCase()} ${r.path}\n`).join(''), 'utf8');
  const mode = check?.overwrite ? 'overwrite' : 'refuse';
  const skip = check?.mayBeUnchanged && records.length > 0 ? 'skip' : 'keep';
  return Buffer.concat([Buffer.from(`ferry-release ${WIRE_VERSION}\ncheck ${mode} ${skip} ${records.length}\n`), records]);
}

/** Everything after the prelude and before the go-ahead: the package in frames (as it is written), trailer, lists. */
export async function* wireBody(opts: WireOptions): AsyncGenerator<Buffer> {
  const { feed } = opts;
  const chunkBytes = opts.readChunkBytes ?? MAX_READ_CHUNK_BYTES;
  let sent = 0;
  // Read when the consumer asks for the next chunk, not ahead of it (a read stream would hold one more per host).
  // Opened with the first frame: a package being packed may not exist before.
  let file: FileHandle | null = null;
  try {
    for (;;) {
      const complete = feed.info !== null;
      const available = feed.available();
      if (available - sent >= (complete ? 1 : MIN_FRAME_BYTES)) {
        yield Buffer.from(`${available - sent}\n`);
        file ??= await open(feed.path, 'r');
        while (sent < available) {
          // From the pool: the stream's consumer gives it back once SSH copied it (ExecOptions.onStdinSent).
          const buffer = packageChunks.take(chunkBytes);
          const { bytesRead } = await file.read(buffer, 0, Math.min(chunkBytes, available - sent), sent);
          if (bytesRead === 0) throw new FerryError('failed', `${feed.path} shrank while it was being sent`);
          sent += bytesRead;
          yield packageChunks.lend(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead), buffer);
          opts.onProgress?.(sent, Math.max(sent, feed.sizeHint));
        }
        continue;
      }
      if (complete) break;
      await feed.waitBeyond(sent + MIN_FRAME_BYTES - 1);
    }
  } finally {
    await file?.close();
  }
  const info = feed.info!;
  // The count may have been reported against an estimate of the size: the last report says it is complete.
  opts.onProgress?.(sent, sent);
  if (sent !== info.size) throw new FerryError('failed', `${feed.path} has ${sent} bytes, the packer wrote ${info.size}`);
  const lists = opts.lists(info);
  yield Buffer.from(`0\n${info.sha256.toLowerCase()} ${info.size} ${lists.length}\n`);
  yield lists;
}

/**
 * The stdin of a release program: the wire body (when Ferry carries the package itself), then, once `answer` is
 * called, the go-ahead or a stop. Destroy it when the command is over (the file is closed then).
 */
export class ReleaseInput {
  readonly stream: Readable;
  private answered: ((word: 'go' | 'stop') => void) | null = null;
  private readonly answer = new Promise<'go' | 'stop'>((resolve) => {
    this.answered = resolve;
  });

  constructor(body: AsyncIterable<Buffer> | Iterable<Buffer> | null) {
    const answer = this.answer;
    async function* all(): AsyncGenerator<Buffer> {
      if (body) yield* body;
      yield Buffer.from(`${await answer}\n`);
    }
    this.stream = Readable.from(all(), { objectMode: false });
  }

  /** Let the host go on (extract) or make it stop and drop the snapshot it took. Only the first call counts. */
  reply(word: 'go' | 'stop'): void {
    this.answered?.(word);
    this.answered = null;
  }

  dispose(): void {
    this.reply('stop');
    this.stream.destroy();
  }
}

/** Splits stdout into MARK lines as they arrive, keeping at most one partial line (cut at 64 KiB). */
export class MarkReader {
  private partial = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = (lines.pop() ?? '').slice(-64 * 1024);
    for (const line of lines) if (line.startsWith(MARK)) this.onLine(line.slice(MARK.length));
  }
}

/** The value of the first `<MARK><name> <value>` line in a complete output, or undefined. */
export function markValue(stdout: string, name: string): string | undefined {
  const prefix = `${MARK}${name} `;
  return stdout.split('\n').find((line) => line.startsWith(prefix))?.slice(prefix.length);
}

export function hasMark(stdout: string, name: string): boolean {
  return stdout.split('\n').includes(`${MARK}${name}`);
}

/**
 * A deadline for one stage of a program (the rollback's check, the publish's pruning), which the whole command's
 * timeout is far too long for: when it passes, the command is stopped (ExecOptions.signal) with `error`.
 */
export class StageDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** Set once the deadline stopped the command. */
  expired = false;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  arm(ms: number, error: () => Error): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(error());
    }, ms);
  }

  disarm(): void {
    clearTimeout(this.timer);
  }
}
