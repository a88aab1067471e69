// Building blocks for talking to a target host: shell quoting, the .ferry/ layout, checked commands,
// small remote files and a bounded fan-out over hosts. Targets only need POSIX sh, tar, sha256sum and find.
import pLimit from 'p-limit';
import type { ExecOptions, ExecResult, RemoteSession } from './types.ts';

/** Quotes one word for POSIX sh: everything inside single quotes, each ' written as '\''. */
export function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export K='v'; ...` prefix: sshd usually refuses AcceptEnv, so the environment travels inside the command. */
export function envPrefix(env: Record<string, string> | undefined): string {
  if (!env) return '';
  return Object.entries(env)
    .map(([name, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`invalid environment variable name: ${JSON.stringify(name)}`);
      return `export ${name}=${shq(value)}; `;
    })
    .join('');
}

/** Ferry's own files on a target, all under `<deployDir>/.ferry/`. */
export interface FerryLayout {
  root: string;
  incoming: string;
  snapshots: string;
  journal: string;
}

export function ferryLayout(deployDir: string): FerryLayout {
  const root = joinRemote(deployDir, '.ferry');
  return { root, incoming: `${root}/incoming`, snapshots: `${root}/snapshots`, journal: `${root}/journal` };
}

/** The per-job files of one publish on a target. */
export interface JobFiles {
  packagePart: string;
  package: string;
  snapshot: string;
  snapshotTmp: string;
  created: string;
  createdTmp: string;
  publishedList: string;
}

export function jobFiles(deployDir: string, jobId: number): JobFiles {
  if (!Number.isSafeInteger(jobId) || jobId < 0) throw new TypeError(`invalid job id: ${jobId}`);
  const { incoming, snapshots, journal } = ferryLayout(deployDir);
  return {
    packagePart: `${incoming}/${jobId}.tar.gz.part`,
    package: `${incoming}/${jobId}.tar.gz`,
    snapshot: `${snapshots}/${jobId}.tar.gz`,
    snapshotTmp: `${snapshots}/${jobId}.tar.gz.tmp`,
    created: `${snapshots}/${jobId}.created`,
    createdTmp: `${snapshots}/${jobId}.created.tmp`,
    publishedList: `${journal}/${jobId}.files`,
  };
}

export function joinRemote(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '') || '/'}/${name}`.replace(/^\/\//, '/');
}

/**
 * A package path as it will sit under deployDir: relative, no "." or ".." segments, no trailing slash.
 * Throws for anything that could escape deployDir.
 */
export function normalizeManifestPath(path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (path.startsWith('/') || segments.length === 0 || segments.includes('..') || path.includes('\0')) {
    throw new TypeError(`unsafe path in package manifest: ${JSON.stringify(path)}`);
  }
  return segments.join('/');
}

/** Parent directories of a relative path, outermost first: "a/b/c" -> ["a", "a/b"]. */
export function ancestorsOf(path: string): string[] {
  const segments = path.split('/');
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
}

export function depthOf(path: string): number {
  return path.split('/').length;
}

/** Parses a NUL-terminated list, the only list format that survives any file name. */
export function fromNulList(text: string): string[] {
  return text.split('\0').filter((p) => p !== '');
}

/** A remote command that exited non-zero, with the tool's own words. */
export class RemoteCommandError extends Error {
  override name = 'RemoteCommandError';
  constructor(
    message: string,
    readonly host: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** The useful part of a tool's stderr: trimmed, without tar's closing boilerplate, one line. */
export function reasonFrom(stderr: string, maxLength = 600): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/Exiting with failure status due to previous errors/.test(l));
  const text = lines.join('; ');
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}

/** Runs a command and throws a RemoteCommandError ("<what> failed on <host>: <stderr>") when it exits non-zero. */
export async function runChecked(session: RemoteSession, command: string, what: string, opts?: ExecOptions): Promise<ExecResult> {
  const result = await session.exec(command, opts);
  if (result.code !== 0) {
    const reason = reasonFrom(result.stderr) || reasonFrom(result.stdout) || `exit code ${result.code}`;
    throw new RemoteCommandError(`${what} failed on ${session.hostName}: ${reason}`, session.hostName, result.code, result.stderr);
  }
  return result;
}

/** The text of a remote file, or null when it does not exist. */
export async function readRemoteFile(session: RemoteSession, path: string): Promise<string | null> {
  const result = await runChecked(session, `if [ -f ${shq(path)} ]; then printf 'Y'; cat ${shq(path)}; else printf 'N'; fi`, `reading ${path}`);
  return result.stdout.startsWith('Y') ? result.stdout.slice(1) : null;
}

/**
 * Runs `fn` for every item with at most `concurrency` running at once. One failure never stops the others:
 * the answer holds a settled result per item, in input order.
 */
export function forEachHostLimited<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const limit = pLimit(Math.max(1, Math.floor(concurrency) || 1));
  return Promise.allSettled(items.map((item, index) => limit(() => fn(item, index))));
}
