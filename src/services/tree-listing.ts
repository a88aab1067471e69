// How the tree API orders, filters and pages one folder's listing, and the short-lived cache of names that lets the
// publish page page through a folder of 20,000 files without running `svn list` for every page.
import { TREE_LISTING } from '../config.ts';
import type { SvnDirEntry } from '../deploy/svn/index.ts';
import { clampPage, searchText } from './paging.ts';

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** A folder entry as far as ordering and searching go. */
export type NamedEntry = Pick<SvnDirEntry, 'name' | 'path' | 'kind'>;

/** Natural order: folders first, then by name with numbers compared as numbers (map_5 before map_50), ignoring case. */
export function compareEntries(a: NamedEntry, b: NamedEntry): number {
  if (a.kind !== b.kind) return a.kind === 'dir' ? -1 : 1;
  return collator.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

export interface TreePage<T extends NamedEntry = SvnDirEntry> {
  entries: T[];
  /** Entries matching the filter (all entries without one). */
  total: number;
  /** Entries in the folder, filtered or not. */
  size: number;
  offset: number;
  limit: number;
  filter: string | null;
}

/** One page of a sorted listing, keeping the entries whose name contains `filter` (case-insensitive). */
export function pageOf<T extends NamedEntry>(sorted: readonly T[], query: { offset?: unknown; limit?: unknown; filter?: unknown }): TreePage<T> {
  const { offset, limit } = clampPage(query.offset, query.limit, TREE_LISTING.maxLimit, TREE_LISTING.defaultLimit);
  const filter = searchText(query.filter) ?? null;
  const needle = filter?.toLocaleLowerCase();
  const matching = needle ? sorted.filter((e) => e.name.toLocaleLowerCase().includes(needle)) : sorted;
  return { entries: matching.slice(offset, offset + limit), total: matching.length, size: sorted.length, offset, limit, filter };
}

interface CachedListing {
  entries: NamedEntry[];
  expires: number;
}

/** Sorted listings by (who, url, revision, path), dropped after TREE_LISTING.cacheMs; oldest first when over the bound. */
export class ListingCache {
  private readonly listings = new Map<string, CachedListing>();
  private held = 0;

  constructor(private readonly limits: { cacheMs: number; cacheEntries: number } = TREE_LISTING) {}

  /** The cached listing for `key` (unless `refresh`), or the one `list` returns (sorted, and kept when it fits). Concurrent misses each list. */
  async get(key: string, list: () => Promise<NamedEntry[]>, now = Date.now(), refresh = false): Promise<NamedEntry[]> {
    this.expire(now);
    if (refresh) this.drop(key);
    const hit = this.listings.get(key);
    if (hit) return hit.entries;
    const entries = (await list()).sort(compareEntries);
    if (entries.length <= this.limits.cacheEntries) {
      this.drop(key);
      this.listings.set(key, { entries, expires: Date.now() + this.limits.cacheMs });
      this.held += entries.length;
      // Map keeps insertion order: the first keys are the oldest.
      for (const oldest of this.listings.keys()) {
        if (this.held <= this.limits.cacheEntries) break;
        this.drop(oldest);
      }
    }
    return entries;
  }

  get size(): number {
    return this.listings.size;
  }

  private expire(now: number): void {
    for (const [key, listing] of this.listings) if (listing.expires <= now) this.drop(key);
  }

  private drop(key: string): void {
    const listing = this.listings.get(key);
    if (!listing) return;
    this.held -= listing.entries.length;
    this.listings.delete(key);
  }
}
