// A command's stdin, written to its SSH channel with backpressure that ssh2 does not give by itself. ssh2 holds a lot
// per channel: its writable side accepts writes until 2 MiB wait for the host's window (Channel.js: highWaterMark
// MAX_WINDOW), and the packets the window lets out are written to the socket without looking at what the socket still
// holds (client.js: `sock.write(data)`, return value ignored). A host slower than Ferry could therefore cost up to
// 4 MiB of Ferry's memory, 50 such hosts 200 MiB. The gate hands ssh2 a chunk only once ssh2 has packed the ones before
// it (the channel's write callback: the window took them), and only while every socket on the way (the target's, and
// each jump host's) holds little.
import { Writable } from 'node:stream';
import type { Client as SshClient } from 'ssh2';

/**
 * What each socket may hold in Node before stdin waits. Node queues only what the kernel's socket buffer (megabytes,
 * tuned by the kernel) did not take, so a small queue here does not slow a fast host.
 */
export const SOCKET_BUFFER_LIMIT = 64 * 1024;
/** Chunks handed to ssh2 and not packed yet: one waiting for the window, one behind it so none is lost on wake-up. */
const MAX_UNPACKED = 2;
/** A socket is looked at again this often even without a 'drain' (a destroyed one emits none). */
const RECHECK_MS = 50;

/** The stream an ssh2 client writes to: a TCP socket, or the jump host's channel for a forwarded connection. */
export function socketOf(client: SshClient): Writable | null {
  // ssh2 keeps it in `_sock` (1.x, stable since 0.x); when it is absent the gate simply does not look at it.
  const sock = (client as unknown as { _sock?: Partial<Writable> })._sock;
  return sock && typeof sock.writableLength === 'number' && typeof sock.once === 'function' ? (sock as Writable) : null;
}

export class SocketGate extends Writable {
  private unpacked = 0;
  /** The write callback held back while MAX_UNPACKED chunks wait for ssh2. */
  private held: (() => void) | null = null;

  constructor(
    private readonly channel: Writable,
    private readonly sockets: readonly Writable[],
    /** Told of each chunk ssh2 has copied into its packets. */
    private readonly onSent?: (chunk: Buffer) => void,
    private readonly limit = SOCKET_BUFFER_LIMIT,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    const full = this.fullSocket();
    if (full) {
      this.whenRoom(full).then(() => this.pass(chunk, done), done);
      return;
    }
    this.pass(chunk, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.channel.end();
    done();
  }

  private pass(chunk: Buffer, done: () => void): void {
    if (this.destroyed) return done();
    this.unpacked++;
    this.channel.write(chunk, (err) => {
      this.unpacked--;
      if (!err) this.onSent?.(chunk);
      const held = this.held;
      this.held = null;
      held?.();
    });
    if (this.unpacked < MAX_UNPACKED) done();
    else this.held = done;
  }

  private fullSocket(): Writable | undefined {
    return this.sockets.find((s) => !s.destroyed && s.writableLength > this.limit);
  }

  private async whenRoom(first: Writable): Promise<void> {
    for (let full: Writable | undefined = first; full && !this.destroyed; full = this.fullSocket()) {
      const sock = full;
      await new Promise<void>((resolve) => {
        const go = () => {
          clearTimeout(timer);
          sock.off('drain', go);
          sock.off('close', go);
          resolve();
        };
        const timer = setTimeout(go, RECHECK_MS);
        sock.once('drain', go);
        sock.once('close', go);
      });
    }
  }
}
