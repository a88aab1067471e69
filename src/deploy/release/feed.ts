// The package as the uploads read it: a finished file, or one the packer is still writing, so that hosts start
// receiving while packing goes on (each upload sends what is on disk in frames, and the trailer once packing is done).
import { stat } from 'node:fs/promises';

/** What is known of a package once it is complete. */
export interface PackageInfo {
  size: number;
  sha256: string;
  /** Every path in the package, relative to its root. */
  manifestPaths: readonly string[];
  /** Its regular files with their sha256 and size (for the drift check); unknown for packages described by hand. */
  files?: readonly { path: string; sha256: string; size: number }[];
}

/** Polling interval for the size of a package being written. */
const POLL_MS = 20;

export class PackageFeed {
  /** Set once the package is complete. */
  info: PackageInfo | null = null;
  private written = 0;
  private failure: unknown = null;
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private polling = false;

  private constructor(
    readonly path: string,
    /** Expected size while packing (for progress and the relay's choice); the real size once complete. */
    public sizeHint: number,
    /** The paths of the package's regular files, known before they are packed (growing packages). */
    private readonly plannedFiles?: readonly string[],
  ) {}

  static finished(path: string, info: PackageInfo): PackageFeed {
    const feed = new PackageFeed(path, info.size);
    feed.info = info;
    feed.written = info.size;
    return feed;
  }

  /** A package `done` will finish writing to `path`; `sizeHint` estimates its size. */
  static growing(path: string, sizeHint: number, done: Promise<PackageInfo>, plannedFiles?: readonly string[]): PackageFeed {
    const feed = new PackageFeed(path, sizeHint, plannedFiles);
    done.then(
      (info) => {
        feed.info = info;
        feed.written = info.size;
        feed.sizeHint = info.size;
        feed.wake();
      },
      (err: unknown) => {
        feed.failure = err;
        feed.wake();
      },
    );
    return feed;
  }

  /**
   * What is known before the package is complete: its regular files' paths, without their hashes (so no host is
   * judged to hold them already); null when not known (then wait for complete()).
   */
  planned(): PackageInfo | null {
    if (this.info) return this.info;
    if (!this.plannedFiles) return null;
    return { size: this.sizeHint, sha256: '', manifestPaths: this.plannedFiles, files: this.plannedFiles.map((path) => ({ path, sha256: '', size: -1 })) };
  }

  /** Bytes of the package on disk now. */
  available(): number {
    if (this.failure) throw this.failure;
    return this.written;
  }

  /** Resolves when more than `bytes` are on disk or the package is complete; rejects when packing failed. */
  async waitBeyond(bytes: number): Promise<void> {
    while (!this.info && this.written <= bytes) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        this.poll();
      });
    }
    if (this.failure) throw this.failure;
  }

  /** Resolves once the package is complete; rejects when packing failed. */
  async complete(): Promise<PackageInfo> {
    await this.waitBeyond(Number.POSITIVE_INFINITY);
    return this.info!;
  }

  private poll(): void {
    if (this.timer || this.polling || this.info || this.failure) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling = true;
      stat(this.path)
        .then((s) => {
          if (!this.info && s.size > this.written) this.written = s.size;
        }, () => undefined)
        .finally(() => {
          this.polling = false;
          this.wake();
        });
    }, POLL_MS);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
