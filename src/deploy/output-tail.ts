// A bounded tail of a command's output: the last `limit` characters and a count of the bytes dropped before them, so
// memory stays flat whatever a remote command, a hook or a hostile host prints.
import { OUTPUT_TAIL_BYTES } from '../config.ts';

/** The line that stands in for dropped output, e.g. `[… 287.4 MB of output dropped …]`. */
export function droppedLine(bytes: number): string {
  return `[… ${formatSize(bytes)} of output dropped …]\n`;
}

/**
 * Keeps the chunks that make up the tail and lets older ones go one by one. It never joins or copies the kept output
 * until asked for it: a flood then only makes short-lived chunk garbage, not a large string per chunk.
 */
export class OutputTail {
  private parts: string[] = [];
  /** Index of the oldest kept chunk in `parts` (dropping from the front without shifting the array each time). */
  private head = 0;
  private length = 0;
  private droppedBytes = 0;

  /** `limit` is in characters (UTF-16 units; one per byte for ASCII output). */
  constructor(private readonly limit: number = OUTPUT_TAIL_BYTES) {}

  push(text: string): void {
    if (!text) return;
    if (this.limit <= 0) {
      this.droppedBytes += Buffer.byteLength(text);
      return;
    }
    if (text.length >= this.limit) {
      // One chunk fills the whole tail: everything before it, and its own head, goes.
      for (let i = this.head; i < this.parts.length; i++) this.droppedBytes += Buffer.byteLength(this.parts[i]);
      this.parts = [];
      this.head = 0;
      this.length = 0;
      const cut = text.length - this.limit;
      this.droppedBytes += Buffer.byteLength(text.slice(0, cut));
      text = text.slice(cut);
    }
    this.parts.push(text);
    this.length += text.length;
    // Whole chunks go while the rest still fills the limit; the oldest kept chunk may stick out (trimmed in body()).
    while (this.length - this.parts[this.head].length >= this.limit) {
      const old = this.parts[this.head++];
      this.length -= old.length;
      this.droppedBytes += Buffer.byteLength(old);
    }
    if (this.head > 64 && this.head * 2 > this.parts.length) {
      this.parts = this.parts.slice(this.head);
      this.head = 0;
    }
  }

  /** Counts output dropped elsewhere (e.g. by a tail this one is fed from), in bytes. */
  addDropped(bytes: number): void {
    this.droppedBytes += bytes;
  }

  /** Bytes dropped so far (including the part of the oldest chunk that sticks out past the limit). */
  get dropped(): number {
    this.trim();
    return this.droppedBytes;
  }

  /** The kept output, without the dropped line. */
  body(): string {
    this.trim();
    return this.parts.slice(this.head).join('');
  }

  /** The kept output, preceded by the dropped line when anything was dropped. */
  text(): string {
    const body = this.body();
    return this.droppedBytes > 0 ? `${droppedLine(this.droppedBytes)}${body}` : body;
  }

  private trim(): void {
    if (this.length <= this.limit) return;
    const first = this.parts[this.head];
    const cut = this.length - this.limit;
    this.droppedBytes += Buffer.byteLength(first.slice(0, cut));
    this.parts[this.head] = first.slice(cut);
    this.length = this.limit;
  }
}

export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024 / 1024).toFixed(1)} GB`;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}
