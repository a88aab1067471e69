// Building blocks for talking to a target host: shell quoting, the .ferry/ layout, checked commands,
// small remote files and a bounded fan-out over hosts. Targets only need POSIX sh, tar, sha256sum and find.
import { FerryError } from '../lib/errors.ts';
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
interface FerryLayout {
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
interface JobFiles {
  /** Where the package arrives and is extracted from (`.part`: removed with the job's other files when it ends). */
  packagePart: string;
  /** The prefix of the package's side files on the target (lists, records, sums). */
  package: string;
  snapshot: string;
  snapshotTmp: string;
  created: string;
  publishedList: string;
}

export function jobFiles(deployDir: string, jobId: number): JobFiles {
  if (!Number.isSafeInteger(jobId) || jobId < 0) throw new TypeError(`invalid job id: ${jobId}`);
  const { incoming, snapshots, journal } = ferryLayout(deployDir);
  return {
    packagePart: `${incoming}/${jobId}.pkg.part`,
    package: `${incoming}/${jobId}.pkg`,
    snapshot: `${snapshots}/${jobId}.tar.gz`,
    snapshotTmp: `${snapshots}/${jobId}.tar.gz.tmp`,
    created: `${snapshots}/${jobId}.created`,
    publishedList: `${journal}/${jobId}.files`,
  };
}

function joinRemote(dir: string, name: string): string {
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

/** A remote command that exited non-zero, with the tool's own words. */
class RemoteCommandError extends FerryError {
  override name = 'RemoteCommandError';
  constructor(
    message: string,
    readonly host: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super('failed', message);
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

/** Exit code of a target-side script that found a symbolic link it must not go through (see linkGuardLines). */
export const OUTSIDE_LINK_EXIT = 19;
const OUTSIDE_MARK = 'ferry:outside';

/**
 * Shell functions that stop a script before it writes, snapshots or deletes through a symbolic link leading outside
 * the deploy directory, judged by the resolved path on the host (links there may predate Ferry). Run them after `cd`
 * into the deploy directory. `guard DIR` checks one directory path that something will be written under: when it is a
 * link, `cd -P` must land inside the resolved deploy directory and not in its .ferry; a directory named .ferry (link or
 * not) must not resolve to the deploy directory's own .ferry (it does when a parent is a link to the deploy root).
 * Checking every ancestor of every path is enough: a directory that is not a link resolves inside when its parent does. `guard_list FILE` checks every ancestor
 * of each path in a newline-separated list (a job's journal). A refusal prints a `ferry:outside` record (path and
 * resolved target, NUL-separated), runs `onRefuse`, and exits with OUTSIDE_LINK_EXIT. `guard_lines` does what
 * guard_list does for a list on stdin. POSIX sh only.
 */
export function linkGuardLines(onRefuse = ':'): string[] {
  return [
    // cd -P sets $PWD to the physical path (POSIX): no subshell, and no trailing newline of the directory's name lost as
    // $(pwd -P) would lose it ("/srv/app\n" is not "/srv/app"; guard keeps them with "." sentinels).
    'cd -P -- . || exit 1',
    'ferry_root=$PWD',
    '[ "$ferry_root" = / ] && ferry_root=',
    'guard() {',
    // A directory named .ferry is resolved too, link or not: through "a -> ." the path "a/.ferry" is the real .ferry.
    '  kind=link',
    '  if [ ! -L "./$1" ]; then',
    '    case $1 in .ferry|*/.ferry) [ -e "./$1" ] || return 0; kind=named ;; *) return 0 ;; esac',
    '  fi',
    '  if r=$(cd -P -- "./$1" 2>/dev/null && pwd -P && printf .); then r=${r%?}; r=${r%?}; else r=; fi',
    '  case $r in',
    '    "") why=nowhere ;;',
    '    "$ferry_root"/.ferry|"$ferry_root"/.ferry/*) [ "$kind" = link ] && why=ferry || why=ferryname ;;',
    '    "$ferry_root"|"$ferry_root"/*) return 0 ;;',
    '    *) why=outside ;;',
    '  esac',
    `  printf '\\n${OUTSIDE_MARK}\\000%s\\000%s\\000%s\\000\\n' "$why" "$1" "$r"`,
    `  ${onRefuse}`,
    `  exit ${OUTSIDE_LINK_EXIT}`,
    '}',
    'guard_list() {',
    '  [ -f "$1" ] || return 0',
    '  guard_lines < "$1"',
    '}',
    // `guard_lines records`: lines are "<sha256> <path>" (the drift check's records).
    'guard_lines() {',
    '  last=',
    '  while IFS= read -r f || [ -n "$f" ]; do',
    '    [ "${1-}" = records ] && f=${f#* }',
    // Lists come in tree order: a path in the same directory as the one before needs no new check.
    '    case $f in */*) [ "${f%/*}" = "$last" ] && continue; last=${f%/*} ;; *) continue ;; esac',
    '    d=',
    '    while :; do',
    '      case $f in',
    '        */*) d=${d:+$d/}${f%%/*}; f=${f#*/}; guard "$d" ;;',
    '        *) break ;;',
    '      esac',
    '    done',
    '  done',
    '}',
  ];
}

/** The directories of `.ferry` as the guard names them, relative to the deploy directory, outermost first. */
const FERRY_DIRS = ['.ferry', '.ferry/incoming', '.ferry/snapshots', '.ferry/journal'] as const;

/**
 * Shell lines that stop a script (OUTSIDE_LINK_EXIT, `ferry:outside` record) when `.ferry` or one of its directories is
 * a symbolic link or belongs to another user: Ferry's packages, snapshots and journal are written, read back and
 * deleted there, so a link (or a directory someone else can fill with links) would make Ferry write outside the deploy
 * directory or restore a snapshot it never took. Missing directories pass (they are created after the check).
 * Absolute paths; POSIX sh only.
 */
export function ferryDirGuardLines(deployDir: string, onRefuse = ':'): string[] {
  const checks = FERRY_DIRS.map((name) => `${shq(name)} ${shq(joinRemote(deployDir, name))}`);
  return [
    'ferry_dir_guard() {',
    '  while [ $# -gt 1 ]; do',
    '    if [ -L "$2" ]; then why=ferrylink; what=$(readlink -- "$2")',
    `    elif [ -e "$2" ] && [ ! -O "$2" ]; then why=ferryowner; what=$(ls -ldn -- "$2" | awk '{print $3}')`,
    '    else shift 2; continue; fi',
    `    printf '\\n${OUTSIDE_MARK}\\000%s\\000%s\\000%s\\000\\n' "$why" "$1" "$what"`,
    `    ${onRefuse}`,
    `    exit ${OUTSIDE_LINK_EXIT}`,
    '  done',
    '}',
    `ferry_dir_guard ${checks.join(' ')}`,
  ];
}

/** The plain error when `.ferry` or one of its directories (`path`, relative) is a link or has another owner. */
function ferryDirError(path: string, host: string, problem: { link: string } | { owner: string }): string {
  const what = 'link' in problem ? `is a symbolic link (to ${problem.link})` : `belongs to ${problem.owner}, not to the login user`;
  return `"${path}" on ${host} ${what}; Ferry keeps its packages, snapshots and journal only in real directories the login user owns — nothing was changed on this host`;
}

/** The plain error a guarded script reported (it exited OUTSIDE_LINK_EXIT with a `ferry:outside` record), or null. */
export function refusalOf(result: ExecResult, host: string): string | null {
  return result.code === OUTSIDE_LINK_EXIT ? outsideLinkError(result.stdout, host) : null;
}

/** Script output without the `ferry:outside` records (they are turned into a plain error instead). */
export function withoutOutsideRecords(text: string): string {
  return text.replace(new RegExp(`\\n?${OUTSIDE_MARK}\\0[^\\n]*\\n?`, 'g'), '\n');
}

/** The plain error for a `ferry:outside` record in a script's stdout, or null when there is none. */
export function outsideLinkError(stdout: string, host: string): string | null {
  const found = new RegExp(`${OUTSIDE_MARK}\\0(\\w+)\\0([^\\0]*)\\0([^\\0]*)\\0`).exec(stdout);
  if (!found) return null;
  const [, why, path, resolved] = found;
  if (why === 'ferrylink') return ferryDirError(path, host, { link: resolved });
  if (why === 'ferryowner') return ferryDirError(path, host, { owner: resolved });
  const what = why === 'nowhere'
    ? 'a symbolic link that does not lead to an existing directory'
    : why === 'ferry'
      ? `a symbolic link into Ferry's own .ferry directory (${resolved})`
      : why === 'ferryname'
        ? `Ferry's own .ferry directory (${resolved}), reached through a symbolic link`
      : `a symbolic link to ${resolved}, outside the deploy directory`;
  return `"${path}" on ${host} is ${what}; Ferry does not write, snapshot or delete through it — nothing was changed on this host`;
}
