// Browsing a project's SVN tree and log for the publish page and the API (read access to the project is enough).
import { SvnClient, type SvnDirEntry, type SvnRevision } from '../deploy/svn/index.ts';
import { normalizeProjectPath } from '../deploy/selection.ts';
import { decryptSecret } from '../lib/crypto.ts';
import { badRequest, FerryError } from '../lib/errors.ts';
import { tk } from '../lib/messages.ts';
import { runFile, type RunFile } from '../lib/exec.ts';
import type { Ctx, Services } from './context.ts';
import { assertCanSee } from './permissions.ts';
import { compareEntries, ListingCache, pageOf, type TreePage } from './tree-listing.ts';

const listings = new ListingCache();

async function clientFor(svc: Services, ctx: Ctx, projectName: string, run: RunFile) {
  const project = await svc.db.project.findUnique({ where: { name: projectName } });
  if (!project) throw new FerryError('not-found', tk('Project "{{name}}" does not exist.'), { params: { name: projectName } });
  await assertCanSee(svc, ctx, project, 'svn.browse');
  const password = project.svnPasswordEnc ? decryptSecret(svc.secretKey, project.svnPasswordEnc) : null;
  return new SvnClient({ url: project.svnUrl, username: project.svnUsername, password }, run, { logger: svc.logger });
}

export interface TreeQuery { path?: unknown; rev?: unknown; offset?: unknown; limit?: unknown; filter?: unknown }

function parseRev(rev: unknown): SvnRevision {
  if (rev === undefined || rev === '' || rev === 'HEAD' || rev === null) return 'HEAD';
  const n = Number(rev);
  if (!Number.isInteger(n) || n < 0) throw badRequest('The revision must be a whole number or HEAD.');
  return n;
}

/**
 * A folder's entries in natural order (folders first). With offset, limit or filter: one page of them with the totals
 * (TreePage), from a listing of names kept briefly so that paging a big folder runs `svn list` once.
 */
export async function svnTree(svc: Services, ctx: Ctx, projectName: string, query: TreeQuery, run: RunFile = runFile): Promise<SvnDirEntry[] | TreePage> {
  const client = await clientFor(svc, ctx, projectName, run);
  // SvnError and SelectionError are FerryErrors: a missing path is a 404, a bad one a 400, an SVN server problem a 502.
  const { path } = query;
  const dir = typeof path === 'string' && path !== '' && path !== '/' ? normalizeProjectPath(path) : '.';
  const rev = parseRev(query.rev);
  const paged = query.offset !== undefined || query.limit !== undefined || query.filter !== undefined;
  if (!paged) return (await client.listDir(dir, rev)).sort(compareEntries);
  // Names only (fast), sorted and kept briefly; the details (size, last change) are read for the page's entries alone.
  // Per account and project URL: a listing is only ever served to someone who passed assertCanSee for it just now.
  const key = JSON.stringify([ctx.actor.name, client.projectUrl, rev, dir]);
  // At HEAD, a folder opened afresh (first page, no search) is listed again, so a new commit shows at once.
  const fresh = rev === 'HEAD' && !(Number(query.offset) > 0) && (query.filter === undefined || query.filter === '');
  const page = pageOf(await listings.get(key, () => client.listNames(dir, rev), Date.now(), fresh), query);
  return { ...page, entries: await client.entryDetails(dir, page.entries.map((e) => e.name), rev) };
}

export async function svnLog(svc: Services, ctx: Ctx, projectName: string, limit: unknown, rev: unknown, run: RunFile = runFile) {
  const client = await clientFor(svc, ctx, projectName, run);
  const n = Math.min(Math.max(1, Number(limit) || 30), 200);
  return client.log(n, parseRev(rev));
}
