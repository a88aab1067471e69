// A bounded tail of a command's output: the last `limit` characters and a count of the bytes dropped before them, so
// memory stays flat whatever a remote command, a hook or a hostile host prints.
import { OUTPUT_TAIL_BYTES } from '../config.ts';

/** The line that stands in for dropped output, e.g. `[… 287.4 MB of output dropped …]`. */
export function droppedLine(bytes: number): string {
  return `[… ${formatSize(bytes)} of output dropped …]\n`;
}

/**
 * Small chunks are gathered and joined into one string of about this many characters before they are kept: a host
 * sending one byte per packet would otherwise make Ferry hold one string (and its ~20 bytes of header) per byte.
 */
const COALESCE_CHARS = 8 * 1024;

/**
 * Keeps the last `limit` characters as a list of flat strings of at least COALESCE_CHARS (or the limit, if smaller),
 * and lets older ones go one by one. It never joins the kept output until asked for it, and a string it lets go is no
 * longer referenced, so memory stays about `limit` characters whatever the size of the chunks.
 */
export class OutputTail {
  private parts: string[] = [];
  /** Index of the oldest kept part in `parts` (dropping from the front without shifting the array each time). */
  private head = 0;
  /** Small chunks not yet joined into a part, and their length. */
  private small: string[] = [];
  private smallChars = 0;
  /** Characters kept: in parts[head..] and in `small`. */
  private length = 0;
  private droppedBytes = 0;
  private readonly coalesceChars: number;

  /** `limit` is in characters (UTF-16 units; one per byte for ASCII output). */
  constructor(private readonly limit: number = OUTPUT_TAIL_BYTES) {
    this.coalesceChars = Math.max(1, Math.min(COALESCE_CHARS, limit));
  }

  push(text: string): void {
    if (!text) return;
    if (this.limit <= 0) {
      this.droppedBytes += Buffer.byteLength(text);
      return;
    }
    if (text.length >= this.limit) {
      // One chunk fills the whole tail: everything before it, and its own head, goes.
      for (let i = this.head; i < this.parts.length; i++) this.droppedBytes += Buffer.byteLength(this.parts[i]);
      for (const piece of this.small) this.droppedBytes += Buffer.byteLength(piece);
      this.parts = [];
      this.head = 0;
      this.small = [];
      this.smallChars = 0;
      this.length = 0;
      const cut = text.length - this.limit;
      this.droppedBytes += Buffer.byteLength(text.slice(0, cut));
      // A slice of a long string keeps the whole string alive; copy the kept end when most of the chunk goes.
      text = cut > this.limit ? copyOf(text.slice(cut)) : text.slice(cut);
      this.parts.push(text);
      this.length = text.length;
      return;
    }
    if (text.length >= this.coalesceChars) {
      this.joinSmall();
      this.parts.push(text);
    } else {
      this.small.push(text);
      this.smallChars += text.length;
      if (this.smallChars >= this.coalesceChars) this.joinSmall();
    }
    this.length += text.length;
    this.dropWholeParts();
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
    return this.parts.slice(this.head).join('') + this.small.join('');
  }

  /** The kept output, preceded by the dropped line when anything was dropped. */
  text(): string {
    const body = this.body();
    return this.droppedBytes > 0 ? `${droppedLine(this.droppedBytes)}${body}` : body;
  }

  private joinSmall(): void {
    if (this.small.length === 0) return;
    this.parts.push(this.small.length === 1 ? this.small[0] : this.small.join(''));
    this.small = [];
    this.smallChars = 0;
  }

  /** Whole parts go while the rest still fills the limit; the oldest kept part may stick out (trimmed in trim()). */
  private dropWholeParts(): void {
    while (this.head < this.parts.length && this.length - this.parts[this.head].length >= this.limit) {
      const old = this.parts[this.head];
      this.parts[this.head++] = '';
      this.length -= old.length;
      this.droppedBytes += Buffer.byteLength(old);
    }
    if (this.head > 64 && this.head * 2 > this.parts.length) {
      this.parts = this.parts.slice(this.head);
      this.head = 0;
    }
  }

  private trim(): void {
    if (this.length <= this.limit) return;
    this.joinSmall();
    this.dropWholeParts();
    if (this.length <= this.limit) return;
    const first = this.parts[this.head];
    const cut = this.length - this.limit;
    this.droppedBytes += Buffer.byteLength(first.slice(0, cut));
    this.parts[this.head] = first.slice(cut);
    this.length = this.limit;
  }
}

/** A flat copy of `text` that does not keep the string it was sliced from alive. */
function copyOf(text: string): string {
  return Buffer.from(text, 'utf16le').toString('utf16le');
}

export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024 / 1024).toFixed(1)} GB`;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}
