// Looks at what is on the hosts without changing anything: the sha256 and size of listed files under a deploy
// directory (one command per host, the paths sent on stdin so no path ever becomes shell text), and one file's
// content, size-capped, for a diff. Files reached through a symbolic link, or resolving outside the deploy directory,
// are reported as such and never read.
import { HOST_CHECK } from '../config.ts';
import { FerryError } from '../lib/errors.ts';
import { normalizeManifestPath, reasonFrom, shq } from './remote.ts';
import type { RemoteSession } from './types.ts';

/** Content of one file as sha256 (hex) and bytes. */
export interface FileState {
  sha256: string;
  size: number;
}

/** One path on a host: its content, or why there is none Ferry may read. */
export type RemoteFile = { kind: 'file'; sha256: string; size: number } | { kind: 'missing' } | { kind: 'link' } | { kind: 'outside' } | { kind: 'other' };

/** The answer of one host: per path what is there, or why the host could not be checked. */
export type HostCheck = { host: string; ok: true; files: Map<string, RemoteFile> } | { host: string; ok: false; error: string };

/** How long the one checking command may run on a host. */
export const CHECK_TIMEOUT_MS = HOST_CHECK.commandTimeoutMs;
/** Most bytes of a host's file fetched for a diff. */
export const FETCH_MAX_BYTES = HOST_CHECK.fetchMaxBytes;

/** The shell lines that answer, per path read from stdin, `F<TAB>sha<TAB>size<TAB>path` or a one-letter kind and the path. */
function hashScript(deployDir: string): string {
  return [
    // A deploy directory that does not exist yet holds none of the files.
    `cd -- ${shq(deployDir)} 2>/dev/null || { while IFS= read -r f; do printf 'M\\t%s\\n' "$f"; done; exit 0; }`,
    'root=$(pwd -P)',
    'while IFS= read -r f; do',
    '  if [ -L "$f" ]; then printf \'L\\t%s\\n\' "$f"',
    '  elif [ -f "$f" ]; then',
    '    r=$(realpath -- "$f" 2>/dev/null)',
    '    case $r in "$root"/*) ;; *) printf \'O\\t%s\\n\' "$f"; continue ;; esac',
    '    s=$(wc -c < "$f" | tr -d \' \'); h=$(sha256sum < "$f"); h=${h%% *}',
    '    printf \'F\\t%s\\t%s\\t%s\\n\' "$h" "$s" "$f"',
    '  elif [ -e "$f" ]; then printf \'X\\t%s\\n\' "$f"',
    '  else printf \'M\\t%s\\n\' "$f"; fi',
    'done',
  ].join('\n');
}

function parseHashes(stdout: string): Map<string, RemoteFile> {
  const files = new Map<string, RemoteFile>();
  for (const line of stdout.split('\n')) {
    const kind = line[0];
    if (kind === 'F') {
      const [, sha256, size, ...rest] = line.split('\t');
      if (/^[0-9a-f]{64}$/.test(sha256 ?? '')) files.set(rest.join('\t'), { kind: 'file', sha256, size: Number(size) });
    } else if (line[1] === '\t') {
      const path = line.slice(2);
      files.set(path, kind === 'M' ? { kind: 'missing' } : kind === 'L' ? { kind: 'link' } : kind === 'O' ? { kind: 'outside' } : { kind: 'other' });
    }
  }
  return files;
}

/** sha256 and size of each of `paths` (relative to deployDir) on one host, in one command. */
export async function hashOnHost(session: RemoteSession, deployDir: string, paths: readonly string[], timeoutMs = CHECK_TIMEOUT_MS): Promise<Map<string, RemoteFile>> {
  const safe = paths.map(normalizeManifestPath);
  if (safe.some((p) => p.includes('\n'))) throw new TypeError('a path with a line break cannot be checked');
  const result = await session.exec(hashScript(deployDir), { stdin: safe.length ? `${safe.join('\n')}\n` : '', timeoutMs, captureChars: 64 * 1024 * 1024 });
  if (result.code !== 0) throw new FerryError('failed', `checking the files on ${session.hostName} failed: ${reasonFrom(result.stderr) || `exit code ${result.code}`}`);
  const files = parseHashes(result.stdout);
  // A path the script did not answer for (it should always answer) counts as unknown, never as "unchanged".
  for (const path of safe) if (!files.has(path)) files.set(path, { kind: 'other' });
  return files;
}

export interface FetchedFile {
  file: RemoteFile;
  /** The content (at most maxBytes), null when the file is not a readable regular file. */
  content: Buffer | null;
  /** The file is bigger than maxBytes: content holds only its start. */
  truncated: boolean;
}

/** One file's state and content (capped at maxBytes), in one command; the content travels base64 on stdout. */
export async function fetchFromHost(session: RemoteSession, deployDir: string, path: string, maxBytes = FETCH_MAX_BYTES, timeoutMs = CHECK_TIMEOUT_MS): Promise<FetchedFile> {
  const safe = normalizeManifestPath(path);
  const script = [
    `printf '%s\\n' ${shq(safe)} | { ${hashScript(deployDir)}\n}`,
    `cd -- ${shq(deployDir)} 2>/dev/null || exit 0`,
    `[ -f ${shq(safe)} ] && [ ! -L ${shq(safe)} ] || exit 0`,
    'root=$(pwd -P)',
    `case $(realpath -- ${shq(safe)}) in "$root"/*) ;; *) exit 0 ;; esac`,
    'printf \'%s\\n\' ---content---',
    `head -c ${Math.max(0, Math.floor(maxBytes))} -- ${shq(safe)} | base64`,
  ].join('\n');
  const result = await session.exec(script, { timeoutMs, captureChars: Math.ceil(maxBytes * 1.4) + 64 * 1024 });
  if (result.code !== 0) throw new FerryError('failed', `reading ${safe} on ${session.hostName} failed: ${reasonFrom(result.stderr) || `exit code ${result.code}`}`);
  const [head, body] = result.stdout.split('---content---\n');
  const file = parseHashes(head).get(safe) ?? { kind: 'other' };
  if (body === undefined || file.kind !== 'file') return { file, content: null, truncated: false };
  const content = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  return { file, content, truncated: file.size > content.length };
}
