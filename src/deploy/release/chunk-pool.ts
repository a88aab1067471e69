// Read buffers for packages on their way to hosts, used again once SSH has copied them into its packets.
//
// Why: a chunk of the package waits in its host's stream until that host's SSH window opens. With 50 hosts receiving
// at once that is often long enough for V8 to move the chunk to the old generation, where its memory comes back only
// with the next full collection. Fresh chunks per read left 20-40 MiB of such dead buffers in the 64-host benchmark
// (the server's memory peaks with them, and glibc keeps the pages). Chunks from this pool are read into again instead.
export class ChunkPool {
  private readonly free = new Map<number, Buffer[]>();
  /** Chunks handed out (the buffer itself, or a view of its start) -> their buffer. */
  private readonly lent = new WeakMap<Buffer, Buffer>();
  private freeBytes = 0;

  constructor(
    /** Free buffers kept beyond this are left to the garbage collector. */
    private readonly maxFreeBytes: number,
  ) {}

  /** A buffer of `size` bytes to read into (its content is whatever was there). */
  take(size: number): Buffer {
    const buffer = this.free.get(size)?.pop();
    if (!buffer) return Buffer.allocUnsafeSlow(size);
    this.freeBytes -= size;
    return buffer;
  }

  /** Hands out `chunk` (`buffer` or a view of it); giveBack(chunk) returns `buffer` to the pool. */
  lend(chunk: Buffer, buffer: Buffer): Buffer {
    this.lent.set(chunk, buffer);
    return chunk;
  }

  /**
   * Nothing reads `chunk` any more (SSH copied it): its buffer may be read into again. A chunk the pool did not lend,
   * or one already given back, is ignored; a buffer never given back is simply collected.
   */
  giveBack(chunk: Buffer): void {
    const buffer = this.lent.get(chunk);
    if (!buffer) return;
    this.lent.delete(chunk);
    if (this.freeBytes + buffer.length > this.maxFreeBytes) return;
    let list = this.free.get(buffer.length);
    if (!list) this.free.set(buffer.length, (list = []));
    list.push(buffer);
    this.freeBytes += buffer.length;
  }

  /** Bytes kept for reuse (for tests). */
  get idleBytes(): number {
    return this.freeBytes;
  }
}

/** The pool every package upload reads from (at most 50 hosts x a few 64 KiB chunks circulate). */
export const packageChunks = new ChunkPool(8 * 1024 * 1024);
