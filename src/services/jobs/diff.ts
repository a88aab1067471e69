// Diffs for the preview and drift pages: a file between two SVN revisions (`svn diff`), or a file on a host against
// what Ferry put there (the host's copy fetched with one command, size-capped; Ferry's copy is the recorded revision
// from SVN). Binary files, and files over the cap, are answered with sizes and hashes only.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FETCH_MAX_BYTES } from '../../deploy/inspect.ts';
import { normalizeProjectPath } from '../../deploy/selection.ts';
import { SvnClient, type SvnRevision } from '../../deploy/svn/index.ts';
import { decryptSecret } from '../../lib/crypto.ts';
import { badRequest, FerryError } from '../../lib/errors.ts';
import { fill, tk } from '../../lib/messages.ts';
import { runFile, type RunFile } from '../../lib/exec.ts';
import type { Ctx } from '../context.ts';
import { assertCan, can } from '../permissions.ts';
import type { JobCore } from './launch.ts';
import { hostPlans } from './plans.ts';
import { projectFor } from './store.ts';

/** What an operator reads: message keys (English text), translated where they are shown (`note` by the browser). */
export const DIFF_TEXT = {
  pathRequired: tk('Say which file to compare (path=).'),
  fromRequired: tk('Say which revision to compare from (from=).'),
  badRevision: tk('A revision must be a whole number or HEAD.'),
  hostNotInProject: tk('Host "{{host}}" is not a host of project "{{project}}".'),
  notRecorded: tk('Ferry has no record of putting {{file}} on {{host}}, so there is nothing to compare it with.'),
  notReadable: tk('{{file}} on {{host}} cannot be compared: {{why}}.'),
  noEngine: tk('Comparing with a host is not available on this Ferry server.'),
  hooksChanged: tk('The recorded copy does not match SVN r{{rev}} (a before-publish hook may have changed it); the diff is against SVN r{{rev}}.'),
  tooBig: tk('The file is larger than 1 MB: only sizes and hashes are shown.'),
  binary: tk('The file is binary: only sizes and hashes are shown.'),
  comparingFailed: tk('comparing the two copies failed: {{error}}'),
  ferryCopy: tk('Ferry (job #{{jobId}}, r{{rev}})'),
  hostNow: tk('{{host}} now'),
};

const HOST_FILE_WORDS: Record<string, string> = {
  missing: tk('it was deleted on the host'),
  link: tk('it is a symbolic link on the host'),
  outside: tk('it leads outside the deploy directory'),
  other: tk('it is not a regular file on the host'),
  refused: tk('its deploy directory is not allowed'),
};

export interface DiffAnswer {
  path: string;
  from: string;
  to: string;
  /** 'text': `diff` holds a unified diff ('' when equal); 'binary': only the sizes and hashes. */
  kind: 'text' | 'binary';
  diff: string;
  /** In English; a static message key, or filled from `noteKey` and `noteParams` (which the page translates). */
  note?: string;
  noteKey?: string;
  noteParams?: Record<string, string | number>;
  /** `from`/`to` as a message key and its params, for the page's labels. */
  fromLabel?: { key: string; params: Record<string, string | number> };
  toLabel?: { key: string; params: Record<string, string | number> };
  sizes?: { from: { sha256: string; size: number } | null; to: { sha256: string; size: number } | null };
}

function revisionOf(value: unknown, fallback?: SvnRevision): SvnRevision {
  if ((value === undefined || value === '') && fallback !== undefined) return fallback;
  if (value === 'HEAD') return 'HEAD';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw badRequest(DIFF_TEXT.badRevision);
  return n;
}

const looksBinary = (data: Buffer) => data.subarray(0, 8192).includes(0);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The ---/+++ lines before the first hunk name `file` alone (removed lines like "-- x" in hunks are left alone). */
function plainHeader(diff: string, file: string): string {
  const hunk = diff.search(/^@@/m);
  if (hunk < 0) return diff;
  return diff.slice(0, hunk).replace(/^(---|\+\+\+) .*$/gm, (_line, mark: string) => `${mark} ${file}`) + diff.slice(hunk);
}

/** `diff -u` of two texts, labelled; never through a shell. */
async function unifiedDiff(run: RunFile, a: { label: string; text: Buffer }, b: { label: string; text: Buffer }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-diff-'));
  try {
    await writeFile(path.join(dir, 'a'), a.text);
    await writeFile(path.join(dir, 'b'), b.text);
    const result = await run('diff', ['-u', '--label', a.label, '--label', b.label, path.join(dir, 'a'), path.join(dir, 'b')], { timeoutMs: 20_000, maxBuffer: 8 * FETCH_MAX_BYTES });
    if (result.code > 1) throw new FerryError('failed', DIFF_TEXT.comparingFailed, { params: { error: result.stderr.trim().slice(0, 300) } });
    return result.stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** "{{file}} on {{host}} cannot be compared: {{why}}." (why is a message key itself). */
function notReadable(file: string, host: string, why: string): FerryError {
  return new FerryError('invalid', DIFF_TEXT.notReadable, { params: { file, host, why }, keyParams: ['why'] });
}

/** GET /api/projects/:name/diff?path=&from=&to=&host= */
export async function fileDiff(core: JobCore, ctx: Ctx, projectName: string, query: Record<string, unknown>, run: RunFile = runFile): Promise<DiffAnswer> {
  const { svc, engine } = core;
  const project = await projectFor(svc, ctx, projectName, 'diff.view');
  if (typeof query.path !== 'string' || query.path === '') throw badRequest(DIFF_TEXT.pathRequired);
  const file = normalizeProjectPath(query.path);
  const password = project.svnPasswordEnc ? decryptSecret(svc.secretKey, project.svnPasswordEnc) : null;
  const client = new SvnClient({ url: project.svnUrl, username: project.svnUsername, password }, run, { logger: svc.logger });

  if (typeof query.host !== 'string' || query.host === '') {
    if (query.from === undefined || query.from === '') throw badRequest(DIFF_TEXT.fromRequired);
    const from = revisionOf(query.from);
    const to = revisionOf(query.to, 'HEAD');
    // The file header names the file alone (svn adds "(revision N)"), so a renderer does not take it for a rename.
    const diff = plainHeader(await client.diff(file, from, to, 8 * FETCH_MAX_BYTES), file);
    const binary = /^Cannot display: file marked as a binary type/m.test(diff);
    return { path: file, from: `r${from}`, to: `r${to}`, kind: binary ? 'binary' : 'text', diff: binary ? '' : diff, note: binary ? DIFF_TEXT.binary : undefined };
  }

  // Someone who may publish (or run processes) on the project may read its files on a host.
  if (!can(ctx.actor, 'process', project.id)) await assertCan(svc, ctx, 'publish', project, 'diff.host');
  if (!engine.fetchHostFile) throw new FerryError('unavailable', DIFF_TEXT.noEngine);
  const host = project.groups.flatMap((g) => g.hosts).find((h) => h.name === query.host);
  if (!host) throw new FerryError('not-found', DIFF_TEXT.hostNotInProject, { params: { host: query.host, project: project.name } });
  const record = await svc.db.hostFile.findUnique({ where: { projectId_hostId_path: { projectId: project.id, hostId: host.id, path: file } } });
  if (!record) throw new FerryError('not-found', DIFF_TEXT.notRecorded, { params: { file, host: host.name } });
  const plans = await hostPlans(svc, { ctx, jobId: 0, kind: 'diff', emit: () => undefined }, project, [host.id]);
  const plan = plans.get(host.id);
  if (!plan) throw notReadable(file, host.name, HOST_FILE_WORDS.refused);
  const fetched = await engine.fetchHostFile(plan, file);
  const recorded = { sha256: record.sha256, size: record.size };
  const fromLabel = { key: DIFF_TEXT.ferryCopy, params: { jobId: record.jobId, rev: record.revision ?? '?' } };
  const toLabel = { key: DIFF_TEXT.hostNow, params: { host: host.name } };
  const answer = { path: file, from: fill(fromLabel.key, fromLabel.params), to: fill(toLabel.key, toLabel.params), fromLabel, toLabel };
  if (fetched.file.kind !== 'file') throw notReadable(file, host.name, HOST_FILE_WORDS[fetched.file.kind]);
  const actual = { sha256: fetched.file.sha256, size: fetched.file.size };
  const sizes = { from: recorded, to: actual };
  if (!fetched.content || fetched.truncated || record.size > FETCH_MAX_BYTES) return { ...answer, kind: 'binary', diff: '', note: DIFF_TEXT.tooBig, sizes };
  if (looksBinary(fetched.content)) return { ...answer, kind: 'binary', diff: '', note: DIFF_TEXT.binary, sizes };
  const ferryCopy = Buffer.from(await client.cat(file, record.revision ?? 'HEAD', 2 * FETCH_MAX_BYTES), 'utf8');
  const hooked = sha256(ferryCopy) !== record.sha256;
  const diff = await unifiedDiff(run, { label: file, text: ferryCopy }, { label: file, text: fetched.content });
  return { ...answer, kind: 'text', diff, ...(hooked ? { note: fill(DIFF_TEXT.hooksChanged, { rev: record.revision ?? '?' }), noteKey: DIFF_TEXT.hooksChanged, noteParams: { rev: record.revision ?? '?' } } : {}), sizes };
}
