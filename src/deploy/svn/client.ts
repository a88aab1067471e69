// Reads a project's Subversion repository (list, log, info) and exports a selection at one revision.
// We call the `svn` CLI through an injected RunFile rather than node-svn-ultimate, because that wrapper can only
// pass a password as `--password ARG`, which anyone can read in `ps`; here the password goes to
// `--password-from-stdin` (svn >= 1.10) and never appears on a command line, in a log or in a config dir.
import { lstat, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { ExecError, type RunFile } from '../../lib/exec.ts';
import { normalizeProjectPath, normalizeSelection, PROJECT_ROOT } from '../selection.ts';
import { SvnError, svnErrorFromStderr, svnMessage, type ErrorContext } from './errors.ts';
import { tk } from '../../lib/messages.ts';
import { BIG_OUTPUT, checkRevision, countUpdateReport, defaultConfigDir, SUPPORTED_SCHEMES, SVN_ENV } from './cli.ts';
import { parseInfoXml, parseListXml, parseLogXml } from './xml.ts';
import type { SvnClientOptions, SvnDirEntry, SvnInfo, SvnLogEntry, SvnRepository, SvnRevision } from './types.ts';

/** "SVN failed to list a directory.": the action is a message key too (SVN_ACTIONS in errors.ts). */
const svnFailed = (ctx: ErrorContext) => ({ key: tk('SVN failed to {{action}}.'), params: { action: ctx.action }, keyParams: ['action'] });

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
      this.opts.logger?.warn({ action: ctx.action, path: ctx.path, reason: error.reason, detail: error.detail }, 'svn failed');
      throw error;
    }
    return result.stdout;
  }

  /** svnserve answers `list URL@REV` with "Malformed network data" when REV is past HEAD; say what it means. */
  private async explainFutureRevision(error: SvnError, ctx: ErrorContext): Promise<SvnError> {
    if (error.reason !== 'unknown' || typeof ctx.revision !== 'number') return error;
    const head = await this.headRevision().catch(() => null);
    if (head === null || ctx.revision <= head) return error;
    return new SvnError('no-such-revision', svnMessage('no-such-revision', ctx, this.url, error.detail), error.detail, error.svnCodes);
  }

  private execFailure(error: unknown, ctx: ErrorContext): SvnError {
    if (error instanceof ExecError) {
      if (error.reason === 'timeout') return new SvnError('timeout', { key: tk('SVN did not answer in time while trying to {{action}}.'), params: { action: ctx.action }, keyParams: ['action'] }, error.message);
      if (error.reason === 'spawn' && error.errno === 'ENOENT') {
        return new SvnError('not-installed', tk('The svn command-line client is not installed on the Ferry server.'), error.message);
      }
      return new SvnError('unknown', svnFailed(ctx), error.message);
    }
    return new SvnError('unknown', svnFailed(ctx), error instanceof Error ? error.message : String(error));
  }

  private parse<T>(parse: () => T, ctx: ErrorContext): T {
    try {
      return parse();
    } catch (error) {
      throw new SvnError('unknown', { key: tk('SVN gave an answer Ferry cannot read while trying to {{action}}.'), params: { action: ctx.action }, keyParams: ['action'] }, (error as Error).message);
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

  /** A file's content at `rev` (text), for a diff; at most maxBytes of output. */
  async cat(path: string, rev: SvnRevision, maxBytes: number): Promise<string> {
    const file = normalizeProjectPath(path);
    return this.svn(['cat', '--', this.urlOf(file, rev)], { action: 'read a file', path: file, revision: rev }, { maxBuffer: maxBytes });
  }

  /** Unified diff of one file between two revisions (`svn diff OLD@from NEW@to`); '' when they are the same. */
  async diff(path: string, from: SvnRevision, to: SvnRevision, maxBytes: number): Promise<string> {
    const file = normalizeProjectPath(path);
    return this.svn(['diff', '--', this.urlOf(file, from), this.urlOf(file, to)], { action: 'compare two revisions of a file', path: file, revision: to }, { maxBuffer: maxBytes });
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

  /**
   * One directory level as names and kinds only, in svn's order. Without --xml svn asks the server for no commit
   * details: on a folder of 20,000 files this takes a tenth of the time of listDir.
   */
  async listNames(path = PROJECT_ROOT, rev: SvnRevision = 'HEAD'): Promise<Pick<SvnDirEntry, 'name' | 'path' | 'kind'>[]> {
    const dir = path === '' ? PROJECT_ROOT : normalizeProjectPath(path);
    const ctx: ErrorContext = { action: 'list a directory', path: dir, revision: rev };
    const text = await this.svn(['list', '--', this.urlOf(dir, rev)], ctx);
    const prefix = dir === PROJECT_ROOT ? '' : `${dir}/`;
    return text.split('\n').filter((line) => line !== '').map((line) => {
      const name = line.endsWith('/') ? line.slice(0, -1) : line;
      return { name, path: prefix + name, kind: line.endsWith('/') ? 'dir' as const : 'file' as const };
    });
  }

  /**
   * Size and last change of some entries of one directory (those on a page of listNames), in the order given; an entry
   * gone meanwhile is left out. One `svn list --xml` with a --search pattern per name: one connection, and the
   * server reads commit details for those entries only.
   */
  async entryDetails(path: string, names: readonly string[], rev: SvnRevision = 'HEAD'): Promise<SvnDirEntry[]> {
    const dir = path === '' ? PROJECT_ROOT : normalizeProjectPath(path);
    const ctx: ErrorContext = { action: 'list a directory', path: dir, revision: rev };
    const found = new Map<string, SvnDirEntry>();
    // Bounded command lines: a few hundred patterns per svn run. The patterns are globs: * ? [ and \ are escaped.
    for (let start = 0; start < names.length; start += 250) {
      const patterns = names.slice(start, start + 250).flatMap((name) => ['--search', name.replace(/[\\*?[\]]/g, '\\$&')]);
      const xml = await this.svn(['list', '--xml', ...patterns, '--', this.urlOf(dir, rev)], ctx);
      for (const entry of this.parse(() => parseListXml(xml, dir), ctx)) found.set(entry.name, entry);
    }
    return names.map((name) => found.get(name)).filter((entry): entry is SvnDirEntry => entry !== undefined);
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
        throw new SvnError('not-found', svnMessage('not-found', ctx, this.url, ''));
      }
    }
  }

  /** Runs an update-like command; returns the number of paths it reports, refusing a reported conflict. */
  private async changedPaths(args: string[], ctx: ErrorContext): Promise<number> {
    const report = countUpdateReport(await this.svn(args, ctx, { timeoutMs: this.opts.exportTimeoutMs }));
    if (report.conflicted) throw new SvnError('unknown', { key: tk('SVN reported a conflict while trying to {{action}}.'), params: { action: ctx.action }, keyParams: ['action'] });
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
