// The shapes Ferry's svn client works with: a repository and its credentials, revisions, listings, log entries.
import type { EngineLogger } from '../types.ts';

/** Where a project lives in Subversion. Never log this object: it holds the password. */
export interface SvnRepository {
  url: string;
  username?: string | null;
  password?: string | null;
}

export interface SvnClientOptions {
  /** The svn binary; default `svn` from PATH. */
  svnBinary?: string;
  /** svn's --config-dir; default a private temp directory, so ~/.subversion is never read or written. */
  configDir?: string;
  /** Timeout for info/list/log, default 60 s. */
  timeoutMs?: number;
  /** Timeout for each exported path, default 1 h. */
  exportTimeoutMs?: number;
  /** How many paths of a selection are exported at once, default 4. */
  exportConcurrency?: number;
  logger?: EngineLogger;
}

/** A revision number, or 'HEAD' for the latest. */
export type SvnRevision = number | 'HEAD';

export interface SvnDirEntry {
  name: string;
  /** Relative to the project URL, e.g. 'conf/app.ini'. */
  path: string;
  kind: 'file' | 'dir';
  /** Bytes; null for directories. */
  size: number | null;
  /** Revision that last changed this entry. */
  rev: number;
  author: string | null;
  /** ISO 8601, UTC. */
  date: string | null;
}

export interface SvnChangedPath {
  /** A (added), M (modified), D (deleted), R (replaced). */
  action: string;
  /** Relative to the project URL ('' for the project directory itself); starts with '/' (repository root) when outside it. */
  path: string;
  kind: 'file' | 'dir' | 'unknown';
  copyFromPath?: string;
  copyFromRev?: number;
}

export interface SvnLogEntry {
  revision: number;
  author: string | null;
  date: string | null;
  message: string;
  paths: SvnChangedPath[];
}

export interface SvnInfo {
  url: string;
  repositoryRoot: string;
  repositoryUuid: string | null;
  /** The project's path inside the repository, e.g. '/trunk' ('' for the repository root). */
  pathInRepository: string;
  /** The revision asked about (HEAD resolved to its number). */
  revision: number;
  lastChangedRev: number;
  lastChangedAuthor: string | null;
  lastChangedDate: string | null;
}
