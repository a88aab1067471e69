// Reads a project's Subversion repository (list, log, info) and exports a selection at one revision.
// We call the `svn` CLI through an injected RunFile rather than node-svn-ultimate, because that wrapper can only
// pass a password as `--password ARG`, which anyone can read in `ps`; here the password goes to
// `--password-from-stdin` (svn >= 1.10) and never appears on a command line, in a log or in a config dir.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { ExecError, type RunFile } from '../lib/exec.ts';
import { normalizeProjectPath, normalizeSelection, PROJECT_ROOT } from './selection.ts';
import type { EngineLogger } from './types.ts';

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

export type SvnErrorKind =
  | 'auth'
  | 'access-denied'
  | 'certificate'
  | 'no-such-revision'
  | 'not-found'
  | 'unreachable'
  | 'timeout'
  | 'local-disk'
  | 'not-installed'
  | 'bad-input'
  | 'unknown';

export class SvnError extends Error {
  readonly kind: SvnErrorKind;
  /** svn's own words (trimmed stderr), for the log and a "details" section; never contains the password. */
  readonly detail: string;
  /** Error codes svn printed, e.g. ['E170013', 'E170001']. */
  readonly svnCodes: string[];

  constructor(kind: SvnErrorKind, message: string, detail = '', svnCodes: string[] = []) {
    super(message);
    this.name = 'SvnError';
    this.kind = kind;
    this.detail = detail;
    this.svnCodes = svnCodes;
  }
}

// svn error codes (svn_error_codes.h, plus APR/OS errno as E000xxx and resolver errors as E670xxx), most specific first:
// svn wraps the cause in generic ones such as E170013 "Unable to connect".
const ERROR_CODES: [SvnErrorKind, RegExp][] = [
  ['auth', /^E(170001|215004|215000|170006)$/],
  ['access-denied', /^E(220001|175013|000013)$/],
  ['certificate', /^E(230001|170008)$/],
  ['no-such-revision', /^E160006$/],
  ['not-found', /^[EW](170000|160013|195012|200009|210005|175007|160005)$/],
  ['unreachable', /^E(000111|000110|000113|000101|000104|000032|210002|210003|175012|120108|120171|670\d{3}|170013)$/],
  ['local-disk', /^E(000028|000030)$/],
];

interface ErrorContext {
  /** What we were doing, e.g. 'list' or 'export'. */
  action: string;
  /** Project-relative path involved, if any. */
  path?: string;
  revision?: SvnRevision;
}

const MAX_DETAIL = 2000;

function describePath(ctx: ErrorContext): string {
  return ctx.path === undefined || ctx.path === PROJECT_ROOT ? 'The project directory' : `"${ctx.path}"`;
}

function plainMessage(kind: SvnErrorKind, ctx: ErrorContext, url: string, detail: string): string {
  switch (kind) {
    case 'auth':
      return 'SVN rejected the login: check the username and password.';
    case 'access-denied':
      return `SVN refused access to ${describePath(ctx).replace(/^The/, 'the')}: this user may not read it.`;
    case 'certificate':
      return `The SVN server's TLS certificate is not trusted (${url}).`;
    case 'no-such-revision':
      return ctx.revision !== undefined
        ? `Revision ${ctx.revision} does not exist in the repository.`
        : 'That revision does not exist in the repository.';
    case 'not-found':
      if (/E210005/.test(detail)) return `There is no SVN repository at ${url}.`;
      if (ctx.revision !== undefined && ctx.revision !== 'HEAD') return `${describePath(ctx)} does not exist in revision ${ctx.revision}.`;
      return ctx.path === undefined || ctx.path === PROJECT_ROOT
        ? `The project URL ${url} does not exist in the repository.`
        : `"${ctx.path}" does not exist in the repository.`;
    case 'unreachable':
      if (/E670\d{3}/.test(detail)) return `Cannot find the SVN server's host name (${url}).`;
      return `Cannot reach the SVN server (${url}): it refused or dropped the connection, or is down.`;
    case 'local-disk':
      return `SVN could not write the exported files on the Ferry server (disk full or read-only) while trying to ${ctx.action}.`;
    default:
      return `SVN failed to ${ctx.action}${ctx.path && ctx.path !== PROJECT_ROOT ? ` "${ctx.path}"` : ''}.`;
  }
}

/** Turns svn's stderr into an SvnError an operator can act on. Exported for tests. */
export function svnErrorFromStderr(stderr: string, ctx: ErrorContext, url: string): SvnError {
  const detail = stderr.trim().slice(0, MAX_DETAIL);
  const codes = [...detail.matchAll(/\b([EW]\d{6})\b/g)].map((m) => m[1]);
  const match = ERROR_CODES.find(([, pattern]) => codes.some((code) => pattern.test(code)));
  const kind = match ? match[0] : 'unknown';
  return new SvnError(kind, plainMessage(kind, ctx, url, detail), detail, codes);
}

// ---- A small XML reader for svn's --xml output (regular, no DTD), fast enough for 20,000-entry listings.

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const XML_ATTR = /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const XML_ENTITY = /&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g;
const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const TAG_NAME_END = /[\s/>]/g;

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(XML_ENTITY, (_, entity: string) => {
    if (entity[0] !== '#') return NAMED_ENTITIES[entity];
    const codePoint = entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return String.fromCodePoint(codePoint);
  });
}

function isBlank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) return false;
  }
  return true;
}

function countQuotes(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('"', from); i !== -1 && i < to; i = text.indexOf('"', i + 1)) n++;
  return n;
}

interface XmlHandler {
  /** `attrs` parses the attributes only when called. Self-closing elements get open() then close(). */
  open(name: string, attrs: () => Record<string, string>): void;
  close(name: string): void;
  /** Entity-decoded text; whitespace between child elements is left out. */
  text(text: string): void;
}

function parseAttrs(raw: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const attr of raw.matchAll(XML_ATTR)) attrs[attr[1]] = decodeEntities(attr[2] ?? attr[3] ?? '');
  return attrs;
}

/** An indexOf-based event scanner: no tree, so a 20,000-entry listing allocates little. */
function scanXml(xml: string, handler: XmlHandler): void {
  const open: string[] = [];
  let hadChild = false;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt !== i) {
      const end = lt === -1 ? xml.length : lt;
      if (!isBlank(xml, i, end)) {
        if (open.length === 0) throw new Error(`text outside the document element at offset ${i}`);
        handler.text(decodeEntities(xml.slice(i, end)));
      } else if (!hadChild && open.length > 0) {
        handler.text(xml.slice(i, end));
      }
      if (lt === -1) break;
    }
    if (xml.startsWith('<?', lt)) {
      i = skipPast(xml, '?>', lt);
      continue;
    }
    if (xml.startsWith('<!--', lt)) {
      i = skipPast(xml, '-->', lt);
      continue;
    }
    if (xml.startsWith('<![CDATA[', lt)) {
      i = skipPast(xml, ']]>', lt);
      handler.text(xml.slice(lt + 9, i - 3));
      continue;
    }
    let gt = xml.indexOf('>', lt);
    while (gt !== -1 && countQuotes(xml, lt, gt) % 2 === 1) gt = xml.indexOf('>', gt + 1);
    if (gt === -1) throw new Error(`unterminated tag at offset ${lt}`);
    i = gt + 1;
    if (xml.charCodeAt(lt + 1) === 0x2f /* / */) {
      const name = xml.slice(lt + 2, gt).trim();
      if (open.pop() !== name) throw new Error(`unexpected </${name}> at offset ${lt}`);
      hadChild = true;
      handler.close(name);
      continue;
    }
    const selfClosing = xml.charCodeAt(gt - 1) === 0x2f;
    TAG_NAME_END.lastIndex = lt + 1;
    const nameEnd = Math.min(TAG_NAME_END.exec(xml)?.index ?? gt, gt);
    const name = xml.slice(lt + 1, nameEnd);
    if (name === '') throw new Error(`unreadable tag at offset ${lt}`);
    const rawAttrs = xml.slice(nameEnd, selfClosing ? gt - 1 : gt);
    handler.open(name, () => parseAttrs(rawAttrs));
    if (selfClosing) {
      hadChild = true;
      handler.close(name);
    } else {
      open.push(name);
      hadChild = false;
    }
  }
  if (open.length > 0) throw new Error(`XML ends inside <${open[open.length - 1]}>`);
}

/** Parses svn's (small) XML answers into a tree. */
export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  scanXml(xml, {
    open(name, attrs) {
      const node: XmlNode = { name, attrs: attrs(), children: [], text: '' };
      stack[stack.length - 1].children.push(node);
      stack.push(node);
    },
    close() {
      stack.pop();
    },
    text(text) {
      stack[stack.length - 1].text += text;
    },
  });
  return root;
}

function skipPast(xml: string, terminator: string, from: number): number {
  const at = xml.indexOf(terminator, from);
  if (at === -1) throw new Error(`unterminated markup at offset ${from}`);
  return at + terminator.length;
}

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

function childrenNamed(node: XmlNode | undefined, name: string): XmlNode[] {
  return node ? node.children.filter((c) => c.name === name) : [];
}

function textOf(node: XmlNode | undefined, name: string): string | null {
  const found = child(node, name);
  return found ? found.text : null;
}

function toInt(value: string | null | undefined, what: string): number {
  const n = Number(value);
  if (value == null || value === '' || !Number.isSafeInteger(n)) throw new Error(`svn output has no valid ${what}`);
  return n;
}

type ListField = 'name' | 'size' | 'author' | 'date';
const LIST_FIELDS = new Set<string>(['name', 'size', 'author', 'date']);

/** Parses `svn list --xml` for one directory, streaming (listings can have tens of thousands of entries). */
export function parseListXml(xml: string, parentPath: string): SvnDirEntry[] {
  const prefix = parentPath === PROJECT_ROOT ? '' : `${parentPath}/`;
  const entries: SvnDirEntry[] = [];
  let sawList = false;
  let kind: 'file' | 'dir' = 'file';
  let rev = '';
  let fields: Record<ListField, string | null> | null = null;
  let field: ListField | null = null;
  scanXml(xml, {
    open(name, attrs) {
      if (name === 'list') sawList = true;
      else if (name === 'entry') {
        kind = attrs().kind === 'dir' ? 'dir' : 'file';
        rev = '';
        fields = { name: null, size: null, author: null, date: null };
      } else if (name === 'commit' && fields) rev = attrs().revision ?? '';
      else if (fields && LIST_FIELDS.has(name)) {
        field = name as ListField;
        fields[field] = '';
      }
    },
    text(text) {
      if (fields && field) fields[field] += text;
    },
    close(name) {
      if (name === field) field = null;
      if (name !== 'entry' || !fields) return;
      const entryName = fields.name ?? '';
      entries.push({
        name: entryName,
        path: prefix + entryName,
        kind,
        size: kind === 'file' && fields.size !== null ? toInt(fields.size, 'size') : null,
        rev: toInt(rev, 'revision'),
        author: fields.author,
        date: fields.date,
      });
      fields = null;
    },
  });
  if (!sawList) throw new Error('svn list output has no <list>');
  return entries;
}

/** Makes a repository-root path ('/trunk/a.txt') relative to the project ('a.txt'), when it is inside it. */
export function projectRelative(repoPath: string, projectPathInRepo: string): string {
  if (projectPathInRepo === '') return repoPath.replace(/^\/+/, '');
  if (repoPath === projectPathInRepo) return '';
  if (repoPath.startsWith(`${projectPathInRepo}/`)) return repoPath.slice(projectPathInRepo.length + 1);
  return repoPath;
}

/** Parses `svn log --xml -v`. Exported for tests. */
export function parseLogXml(xml: string, projectPathInRepo: string): SvnLogEntry[] {
  const log = child(parseXml(xml), 'log');
  if (!log) throw new Error('svn log output has no <log>');
  return childrenNamed(log, 'logentry').map((entry) => ({
    revision: toInt(entry.attrs.revision, 'revision'),
    author: textOf(entry, 'author'),
    date: textOf(entry, 'date'),
    message: textOf(entry, 'msg') ?? '',
    paths: childrenNamed(child(entry, 'paths'), 'path').map((p) => {
      const changed: SvnChangedPath = {
        action: p.attrs.action ?? '',
        path: projectRelative(p.text, projectPathInRepo),
        kind: p.attrs.kind === 'file' || p.attrs.kind === 'dir' ? p.attrs.kind : 'unknown',
      };
      if (p.attrs['copyfrom-path'] !== undefined) {
        changed.copyFromPath = projectRelative(p.attrs['copyfrom-path'], projectPathInRepo);
        changed.copyFromRev = toInt(p.attrs['copyfrom-rev'], 'copy-from revision');
      }
      return changed;
    }),
  }));
}

/** Parses `svn info --xml` for one URL. Exported for tests. */
export function parseInfoXml(xml: string): SvnInfo {
  const entry = child(child(parseXml(xml), 'info'), 'entry');
  if (!entry) throw new Error('svn info output has no <entry>');
  const repository = child(entry, 'repository');
  const commit = child(entry, 'commit');
  const relativeUrl = textOf(entry, 'relative-url') ?? '^/';
  return {
    url: textOf(entry, 'url') ?? '',
    repositoryRoot: textOf(repository, 'root') ?? '',
    repositoryUuid: textOf(repository, 'uuid'),
    pathInRepository: decodeURIComponent(relativeUrl.replace(/^\^/, '')).replace(/\/+$/, ''),
    revision: toInt(entry.attrs.revision, 'revision'),
    lastChangedRev: toInt(commit?.attrs.revision, 'last changed revision'),
    lastChangedAuthor: textOf(commit, 'author'),
    lastChangedDate: textOf(commit, 'date'),
  };
}

// One line per path an update touched: text, property, lock and tree-conflict columns, a space, the path.
const UPDATE_LINE = /^([ADUCGER ])([UCG ])([B ])([C ]) \S/;

/** Counts the paths in `svn update`/`switch` output and notices conflicts (the working copy is cleaned first, so none is expected). */
function countUpdateReport(stdout: string): { changed: number; conflicted: boolean } {
  let changed = 0;
  // "Skipped paths" are listed under the conflicts too: a selected path that does not exist (checked by the caller).
  let conflicted = /^ {2}(Text|Property|Tree) conflicts: [1-9]/m.test(stdout);
  for (const line of stdout.split('\n')) {
    const match = UPDATE_LINE.exec(line);
    if (!match || match.slice(1).join('').trim() === '') continue;
    changed++;
    if (match[1] === 'C' || match[2] === 'C' || match[4] === 'C') conflicted = true;
  }
  return { changed, conflicted };
}

// ---- The client.

const SUPPORTED_SCHEMES = new Set(['svn:', 'svn+ssh:', 'http:', 'https:', 'file:']);
// svn must read and print UTF-8 (non-ASCII paths and messages); C.UTF-8 also keeps its messages in English.
const SVN_ENV = { LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
const BIG_OUTPUT = 256 * 1024 * 1024;

let sharedConfigDir: string | null = null;

/**
 * One private svn config dir per process, removed at exit. The files svn would otherwise create on first use
 * are made empty up front (= all defaults), so concurrent svn runs never race to write them.
 */
function defaultConfigDir(): string {
  if (!sharedConfigDir) {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-svn-config-'));
    mkdirSync(join(dir, 'auth'), { mode: 0o700 });
    for (const file of ['README.txt', 'config', 'servers']) writeFileSync(join(dir, file), '', { mode: 0o600 });
    sharedConfigDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return sharedConfigDir;
}

/** A revision as svn's -r argument; throws a plain SvnError for anything but 'HEAD' or a non-negative integer. */
export function checkRevision(rev: SvnRevision): string {
  if (rev === 'HEAD') return 'HEAD';
  if (!Number.isSafeInteger(rev) || rev < 0) throw new SvnError('bad-input', `"${String(rev)}" is not a revision number.`);
  return String(rev);
}

export class SvnClient {
  private readonly url: string;
  private readonly username: string | null;
  private readonly password: string | null;
  private readonly opts: Required<Omit<SvnClientOptions, 'configDir' | 'logger'>> & Pick<SvnClientOptions, 'configDir' | 'logger'>;
  private projectPathCache: Promise<string> | null = null;

  constructor(
    repo: SvnRepository,
    private readonly runFile: RunFile,
    opts: SvnClientOptions = {},
  ) {
    let parsed: URL;
    try {
      parsed = new URL(repo.url);
    } catch {
      throw new SvnError('bad-input', `"${repo.url}" is not a valid SVN URL.`);
    }
    if (!SUPPORTED_SCHEMES.has(parsed.protocol)) {
      throw new SvnError('bad-input', `"${repo.url}" is not an SVN URL (use svn://, svn+ssh://, http://, https:// or file://).`);
    }
    if (parsed.password) throw new SvnError('bad-input', 'Put the SVN password in the password field, not in the URL.');
    if (repo.password != null && /[\r\n]/.test(repo.password)) {
      throw new SvnError('bad-input', 'The SVN password cannot contain line breaks.');
    }
    this.url = repo.url.replace(/\/+$/, '');
    this.username = repo.username || null;
    this.password = repo.password ?? null;
    this.opts = {
      svnBinary: opts.svnBinary ?? 'svn',
      timeoutMs: opts.timeoutMs ?? 60_000,
      exportTimeoutMs: opts.exportTimeoutMs ?? 60 * 60_000,
      exportConcurrency: opts.exportConcurrency ?? 4,
      configDir: opts.configDir,
      logger: opts.logger,
    };
  }

  /** The project URL as Ferry uses it (no trailing slash). */
  get projectUrl(): string {
    return this.url;
  }

  /** URL of a project-relative path with each segment percent-encoded, plus a peg revision. */
  private urlOf(path: string, rev: SvnRevision): string {
    const suffix = path === PROJECT_ROOT ? '' : `/${path.split('/').map(encodeURIComponent).join('/')}`;
    return `${this.url}${suffix}@${checkRevision(rev)}`;
  }

  /** Runs svn with credentials on stdin; returns stdout or throws SvnError. */
  private async svn(args: string[], ctx: ErrorContext, limits: { timeoutMs?: number; maxBuffer?: number } = {}): Promise<string> {
    const auth: string[] = [];
    if (this.username) auth.push('--username', this.username);
    if (this.password !== null) auth.push('--password-from-stdin');
    const fullArgs = [
      '--non-interactive',
      '--no-auth-cache',
      '--config-dir',
      this.opts.configDir ?? defaultConfigDir(),
      '--config-option',
      'servers:global:store-passwords=no',
      '--config-option',
      'servers:global:store-auth-creds=no',
      '--config-option',
      'config:auth:password-stores=',
      ...auth,
      ...args,
    ];
    this.opts.logger?.debug({ args: fullArgs }, 'svn');
    let result;
    try {
      result = await this.runFile(this.opts.svnBinary, fullArgs, {
        env: SVN_ENV,
        input: this.password !== null ? `${this.password}\n` : undefined,
        timeoutMs: limits.timeoutMs ?? this.opts.timeoutMs,
        maxBuffer: limits.maxBuffer ?? BIG_OUTPUT,
      });
    } catch (error) {
      throw this.execFailure(error, ctx);
    }
    if (result.code !== 0) {
      const error = await this.explainFutureRevision(svnErrorFromStderr(result.stderr, ctx, this.url), ctx);
      this.opts.logger?.warn({ action: ctx.action, path: ctx.path, kind: error.kind, detail: error.detail }, 'svn failed');
      throw error;
    }
    return result.stdout;
  }

  /** svnserve answers `list URL@REV` with "Malformed network data" when REV is past HEAD; say what it means. */
  private async explainFutureRevision(error: SvnError, ctx: ErrorContext): Promise<SvnError> {
    if (error.kind !== 'unknown' || typeof ctx.revision !== 'number') return error;
    const head = await this.headRevision().catch(() => null);
    if (head === null || ctx.revision <= head) return error;
    return new SvnError('no-such-revision', plainMessage('no-such-revision', ctx, this.url, error.detail), error.detail, error.svnCodes);
  }

  private execFailure(error: unknown, ctx: ErrorContext): SvnError {
    if (error instanceof ExecError) {
      if (error.reason === 'timeout') return new SvnError('timeout', `SVN did not answer in time while trying to ${ctx.action}.`, error.message);
      if (error.reason === 'spawn' && error.errno === 'ENOENT') {
        return new SvnError('not-installed', 'The svn command-line client is not installed on the Ferry server.', error.message);
      }
      return new SvnError('unknown', `SVN failed to ${ctx.action}.`, error.message);
    }
    return new SvnError('unknown', `SVN failed to ${ctx.action}.`, error instanceof Error ? error.message : String(error));
  }

  private parse<T>(parse: () => T, ctx: ErrorContext): T {
    try {
      return parse();
    } catch (error) {
      throw new SvnError('unknown', `SVN gave an answer Ferry cannot read while trying to ${ctx.action}.`, (error as Error).message);
    }
  }

  /** The project URL's repository and last change; also what a "Test SVN" button calls. */
  async info(rev: SvnRevision = 'HEAD'): Promise<SvnInfo> {
    const ctx: ErrorContext = { action: 'read the project information', path: PROJECT_ROOT, revision: rev };
    const xml = await this.svn(['info', '--xml', '--', this.urlOf(PROJECT_ROOT, rev)], ctx);
    const info = this.parse(() => parseInfoXml(xml), ctx);
    this.projectPathCache ??= Promise.resolve(info.pathInRepository);
    return info;
  }

  async headRevision(): Promise<number> {
    return (await this.info('HEAD')).revision;
  }

  /** One directory level, directories first, for a lazily loaded tree. `path` is project-relative ('' or '.' = root). */
  async listDir(path = PROJECT_ROOT, rev: SvnRevision = 'HEAD'): Promise<SvnDirEntry[]> {
    const dir = path === '' ? PROJECT_ROOT : normalizeProjectPath(path);
    const ctx: ErrorContext = { action: 'list a directory', path: dir, revision: rev };
    const xml = await this.svn(['list', '--xml', '--', this.urlOf(dir, rev)], ctx);
    const entries = this.parse(() => parseListXml(xml, dir), ctx);
    const dirs = entries.filter((e) => e.kind === 'dir');
    return dirs.length === 0 || dirs.length === entries.length ? entries : [...dirs, ...entries.filter((e) => e.kind !== 'dir')];
  }

  /** The newest `limit` commits touching the project, at or before `rev`, newest first. */
  async log(limit: number, rev: SvnRevision = 'HEAD'): Promise<SvnLogEntry[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new SvnError('bad-input', `"${String(limit)}" is not a valid number of log entries.`);
    const ctx: ErrorContext = { action: 'read the history', path: PROJECT_ROOT, revision: rev };
    const target = this.urlOf(PROJECT_ROOT, rev);
    const [projectPath, xml] = await Promise.all([
      this.projectPath(rev),
      this.svn(['log', '--xml', '-v', '-l', String(limit), '-r', `${checkRevision(rev)}:1`, '--', target], ctx),
    ]);
    return this.parse(() => parseLogXml(xml, projectPath), ctx);
  }

  /**
   * Exports each selected path at one revision into destDir, keeping project-relative paths (a selected
   * 'a/b.txt' lands in destDir/a/b.txt). 'HEAD' is resolved first so every path comes from the same
   * revision, which is returned.
   */
  async exportSelection(selection: readonly string[], rev: SvnRevision, destDir: string): Promise<number> {
    const paths = normalizeSelection(selection);
    const revision = rev === 'HEAD' ? await this.headRevision() : Number(checkRevision(rev));
    const root = resolve(destDir);
    await mkdir(root, { recursive: true });
    const limit = pLimit(this.opts.exportConcurrency);
    let firstError: unknown = null;
    const exportOne = async (path: string): Promise<void> => {
      if (firstError) return;
      const dest = path === PROJECT_ROOT ? root : join(root, ...path.split('/'));
      await mkdir(dirname(dest), { recursive: true });
      const ctx: ErrorContext = { action: 'export', path, revision };
      // --ignore-externals: an svn:externals property could pull any repository the Ferry server can reach (file:///
      // included) into a release; only what the project itself holds is published.
      // The trailing '@' keeps svn from reading a name such as 'logo@2x.png' as a peg revision (E200009).
      const args = ['export', '--force', '--quiet', '--ignore-externals', '-r', String(revision), '--', this.urlOf(path, revision), `${dest}@`];
      await this.svn(args, ctx, { timeoutMs: this.opts.exportTimeoutMs });
    };
    // Let running exports finish before failing, so the caller can safely clean destDir up.
    await Promise.all(
      paths.map((path) =>
        limit(() => exportOne(path)).catch((error: unknown) => {
          firstError ??= error;
        }),
      ),
    );
    if (firstError) throw firstError;
    this.opts.logger?.info({ revision, paths: paths.length }, 'svn export done');
    return revision;
  }

  // ---- A private, sparse working copy of the project (see working-copy.ts): only the selected paths and the folders
  // leading to them are fetched, and an update fetches only what changed. Local targets get a trailing '@' so that
  // a name such as 'logo@2x.png' is not read as a peg revision (checkout's and switch's destination is never read so).

  /** Checks the project folder out alone (depth empty) at `revision` into wcDir, which must not exist yet. */
  async checkoutEmpty(wcDir: string, revision: number): Promise<void> {
    const ctx: ErrorContext = { action: 'check out the project', path: PROJECT_ROOT, revision };
    const args = ['checkout', '--quiet', '--depth', 'empty', '--ignore-externals', '-r', String(revision), '--', this.urlOf(PROJECT_ROOT, revision), wcDir];
    await this.svn(args, ctx, { timeoutMs: this.opts.exportTimeoutMs });
  }

  /** The working copy's URL, repository and revision, read locally (no network). */
  async workingCopyInfo(wcDir: string): Promise<SvnInfo> {
    const ctx: ErrorContext = { action: 'read the working copy' };
    const xml = await this.svn(['info', '--xml', '--', `${wcDir}@`], ctx);
    return this.parse(() => parseInfoXml(xml), ctx);
  }

  /**
   * Undoes anything done to the working copy since svn last wrote it: stale locks and unfinished operations (a killed
   * svn), modified, deleted, added, unversioned and ignored files. Throws when the working copy cannot be repaired.
   */
  async cleanWorkingCopy(wcDir: string): Promise<void> {
    const ctx: ErrorContext = { action: 'clean up the working copy' };
    const limits = { timeoutMs: this.opts.exportTimeoutMs };
    const removeStrays = ['cleanup', '--remove-unversioned', '--remove-ignored', '--', `${wcDir}@`];
    try {
      await this.svn(removeStrays, ctx, limits);
    } catch {
      // --remove-unversioned refuses a locked working copy; a plain cleanup breaks the locks and finishes the work queue.
      await this.svn(['cleanup', '--', `${wcDir}@`], ctx, limits);
      await this.svn(removeStrays, ctx, limits);
    }
    await this.svn(['revert', '--quiet', '-R', '--remove-added', '--', `${wcDir}@`], ctx, limits);
  }

  /** Updates everything the working copy holds to `revision`; returns how many paths changed. */
  async updateWorkingCopy(wcDir: string, revision: number): Promise<number> {
    const ctx: ErrorContext = { action: 'update the working copy', path: PROJECT_ROOT, revision };
    return this.changedPaths(['update', '--ignore-externals', '-r', String(revision), '--', `${wcDir}@`], ctx);
  }

  /** Points the working copy at the project URL (after the project's URL changed), keeping its sparse depths. */
  async switchWorkingCopy(wcDir: string, revision: number): Promise<number> {
    const ctx: ErrorContext = { action: 'switch the working copy', path: PROJECT_ROOT, revision };
    const args = ['switch', '--ignore-externals', '--ignore-ancestry', '-r', String(revision), '--', this.urlOf(PROJECT_ROOT, revision), wcDir];
    return this.changedPaths(args, ctx);
  }

  /**
   * Brings selected project paths into the working copy at `revision` in full depth, with the folders leading to them.
   * svn skips a path that does not exist without an error, so the caller checks with checkSelectionPresent.
   */
  async fetchIntoWorkingCopy(wcDir: string, paths: readonly string[], revision: number): Promise<number> {
    if (paths.length === 0) return 0;
    const ctx: ErrorContext = { action: 'update the working copy', path: PROJECT_ROOT, revision };
    const targets = paths.map((path) => `${path === PROJECT_ROOT ? wcDir : join(wcDir, ...path.split('/'))}@`);
    return this.changedPaths(['update', '--parents', '--set-depth', 'infinity', '--ignore-externals', '-r', String(revision), '--', ...targets], ctx);
  }

  /**
   * Throws the SvnError exportSelection gives for a selected path that does not exist at `revision`, when the working
   * copy lacks it (or reaches it only through a symbolic link, which an export of the path's URL would not follow).
   */
  async checkSelectionPresent(wcDir: string, paths: readonly string[], revision: number): Promise<void> {
    for (const path of paths) {
      if (path === PROJECT_ROOT) continue;
      const segments = path.split('/');
      // '.svn' can never be versioned: in a working copy it is svn's own folder.
      let present = !segments.includes('.svn');
      for (let depth = 1; present && depth <= segments.length; depth++) {
        const stat = await lstat(join(wcDir, ...segments.slice(0, depth))).catch(() => null);
        present = stat !== null && (depth === segments.length || stat.isDirectory());
      }
      if (!present) {
        const ctx: ErrorContext = { action: 'export', path, revision };
        throw new SvnError('not-found', plainMessage('not-found', ctx, this.url, ''));
      }
    }
  }

  /** Runs an update-like command; returns the number of paths it reports, refusing a reported conflict. */
  private async changedPaths(args: string[], ctx: ErrorContext): Promise<number> {
    const report = countUpdateReport(await this.svn(args, ctx, { timeoutMs: this.opts.exportTimeoutMs }));
    if (report.conflicted) throw new SvnError('unknown', `SVN reported a conflict while trying to ${ctx.action}.`);
    return report.changed;
  }

  private async projectPath(rev: SvnRevision): Promise<string> {
    if (!this.projectPathCache) {
      const pending = this.info(rev).then((info) => info.pathInRepository);
      this.projectPathCache = pending;
      pending.catch(() => {
        if (this.projectPathCache === pending) this.projectPathCache = null;
      });
    }
    return this.projectPathCache;
  }
}
