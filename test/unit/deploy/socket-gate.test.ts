import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { SocketGate, socketOf } from '../../../src/deploy/transport/socket-gate.ts';

const KIB = 1024;
const chunk = (n: number) => Buffer.alloc(64 * KIB, n);
const tick = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** A writable that completes writes only when told to (a socket that cannot send, a channel without window). */
class Held extends Writable {
  readonly taken: Buffer[] = [];
  private pending: (() => void)[] = [];
  constructor() {
    super({ highWaterMark: 16 * KIB });
  }
  override _write(data: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.taken.push(data);
    this.pending.push(done);
  }
  /** Completes every write held so far. */
  release(): void {
    for (const done of this.pending.splice(0)) done();
  }
}

/** An ssh2-like channel: takes writes at once while it has window, and writes what it takes to `socket`. */
class Channel extends Writable {
  readonly taken: Buffer[] = [];
  private waiting: (() => void) | null = null;
  constructor(
    private readonly socket: Writable,
    public window: number,
  ) {
    super({ highWaterMark: 2048 * KIB });
  }
  override _write(data: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const send = () => {
      this.window -= data.length;
      this.taken.push(data);
      this.socket.write(data);
      done();
    };
    if (this.window >= data.length) send();
    else this.waiting = send;
  }
  grant(bytes: number): void {
    this.window += bytes;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }
}

describe('SocketGate', () => {
  it('hands the channel at most two chunks beyond its window, and goes on when the window opens', async () => {
    const socket = new PassThrough({ highWaterMark: 16 * 1024 * KIB });
    socket.resume();
    const channel = new Channel(socket, 128 * KIB);
    const gate = new SocketGate(channel, [socket]);
    const chunks = [0, 1, 2, 3, 4, 5, 6, 7].map(chunk);
    const done = pipeline(Readable.from(chunks, { objectMode: false }), gate);
    await tick();
    // Two chunks fill the window; the third waits in ssh2 (as its _chunk); nothing more is handed over.
    expect(channel.taken).toHaveLength(2);
    expect(channel.writableLength).toBeLessThanOrEqual(2 * 64 * KIB);
    channel.grant(1024 * KIB);
    await done;
    channel.end();
    expect(Buffer.concat(channel.taken)).toEqual(Buffer.concat(chunks));
  });

  it('holds stdin back while a socket on the way holds more than the limit, and goes on as it drains', async () => {
    const socket = new Held();
    const channel = new Channel(socket, 16 * 1024 * KIB);
    const gate = new SocketGate(channel, [socket], undefined, 128 * KIB);
    const chunks = [0, 1, 2, 3, 4, 5, 6, 7].map(chunk);
    const done = pipeline(Readable.from(chunks, { objectMode: false }), gate);
    await tick();
    // 128 KiB may sit in the socket; the chunk that finds it over the limit waits: 3 chunks = 192 KiB at most.
    expect(channel.taken).toHaveLength(3);
    expect(socket.writableLength).toBe(192 * KIB);
    let most = 0;
    const sending = setInterval(() => {
      most = Math.max(most, socket.writableLength);
      socket.release();
    }, 5);
    await done;
    clearInterval(sending);
    expect(most).toBeLessThanOrEqual(192 * KIB);
    expect(Buffer.concat(channel.taken)).toEqual(Buffer.concat(chunks));
  });

  it('does not wait for a socket that was destroyed (its data will never drain)', async () => {
    const socket = new Held();
    socket.write(chunk(9));
    const channel = new Channel(new PassThrough().resume(), 16 * 1024 * KIB);
    const gate = new SocketGate(channel, [socket], undefined, 16 * KIB);
    const done = pipeline(Readable.from([chunk(1), chunk(2)], { objectMode: false }), gate);
    await tick(80);
    expect(channel.taken).toHaveLength(0);
    socket.destroy();
    await done;
    expect(channel.taken).toHaveLength(2);
  });

  it('reports each chunk as sent only once the channel has taken it (its buffer may be reused then)', async () => {
    const socket = new PassThrough({ highWaterMark: 16 * 1024 * KIB }).resume();
    const channel = new Channel(socket, 64 * KIB);
    const sent: Buffer[] = [];
    const chunks = [chunk(1), chunk(2), chunk(3)];
    const done = pipeline(Readable.from(chunks, { objectMode: false }), new SocketGate(channel, [], (c) => sent.push(c)));
    await tick();
    expect(sent).toEqual([chunks[0]]);
    expect(sent[0]).toBe(chunks[0]);
    channel.grant(1024 * KIB);
    await done;
    expect(sent.map((c) => c[0])).toEqual([1, 2, 3]);
  });

  it('ends the channel when stdin ends', async () => {
    const channel = new Channel(new PassThrough().resume(), 1024 * KIB);
    let finished = false;
    channel.on('finish', () => (finished = true));
    await pipeline(Readable.from([chunk(1)], { objectMode: false }), new SocketGate(channel, []));
    await tick(10);
    expect(finished).toBe(true);
  });

  it('finds the socket an ssh2 client writes to, and nothing on other objects', () => {
    const sock = new PassThrough();
    expect(socketOf({ _sock: sock } as never)).toBe(sock);
    expect(socketOf({} as never)).toBeNull();
  });
});
