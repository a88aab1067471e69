// Publish: check the chosen files, revision and hosts, then either store a request for approval (approval.ts) or claim
// the project's slot and let the engine export, pack, send and extract, telling it which snapshots on each host must
// survive pruning.
import { normalizeSelection, SelectionError } from '../../deploy/selection.ts';
import { decryptSecret } from '../../lib/crypto.ts';
import { badRequest } from '../../lib/errors.ts';
import type { Ctx, Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { assertCan } from '../permissions.ts';
import { requestApproval } from './approval.ts';
import { abandon, launch, type JobCore } from './launch.ts';
import type { ProjectSlot } from './lock.ts';
import { recordHostFiles, succeededHosts, type PublishedFile } from './host-files.ts';
import { concurrencyOf, hookSpecs, hostPlans } from './plans.ts';
import { gateBeforePublish, PREVIEW_TEXT } from './preview.ts';
import { selectHosts, stringList } from './request.ts';
import type { JobStatus } from './status.ts';
import { createJob, projectFor, type ProjectFull } from './store.ts';

export interface PublishInput { files: unknown; revision?: unknown; hosts?: unknown; groups?: unknown; note?: unknown; /** Publish even over files edited by hand on a host. */ overwriteDrift?: unknown }

/** What a publish will do, checked: the same for one started now and one started when its request is approved. */
export interface PublishSpec {
  files: string[];
  revision?: number;
  note: string;
  hosts: { id: number; name: string }[];
  /** Who asked for it: the job's author, named in the release journal on each host. */
  author: string;
  /** Hosts where every file is already in place (preview.ts): not uploaded to, and the job says so. */
  unchanged?: { hostIds: number[]; revision: number; files: PublishedFile[] };
}

export async function startPublish(core: JobCore, ctx: Ctx, projectName: string, input: PublishInput): Promise<{ jobId: number; status: JobStatus }> {
  const { svc } = core;
  const project = await projectFor(svc, ctx, projectName, 'publish');
  await assertCan(svc, ctx, 'publish', project, 'publish');
  const spec = await publishSpec(svc, ctx, project, input);
  const { files, revision, hosts, note } = spec;
  const what = `r${revision ?? 'HEAD'}, ${files.length} path(s) to ${hosts.length} host(s)`;
  if (project.requireApproval) return requestApproval(svc, ctx, project, { kind: 'publish', revision: revision ?? null, files, note }, hosts, what);

  // Checked before the slot is claimed, so a publish that is refused for hand edits never shows the project busy.
  spec.unchanged = await gateBeforePublish(core, ctx, project, spec, input.overwriteDrift === true);
  // HEAD as checked: a commit landing meanwhile must not be published to hosts judged on the revision before it.
  if (spec.unchanged) spec.revision ??= spec.unchanged.revision;
  const slot = await core.locks.claim(ctx, project, 'publish');
  let job;
  try {
    job = await createJob(svc, ctx, project, { kind: 'publish', revision: revision ?? null, files, note }, hosts);
    await recordOp(svc, ctx, { action: 'publish.start', result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: what });
  } catch (err) {
    slot.release();
    if (job) await abandon(svc, job.id, err);
    throw err;
  }
  runPublish(core, ctx, job, project, spec, slot);
  return { jobId: job.id, status: 'running' };
}

export async function publishSpec(svc: Services, ctx: Ctx, project: ProjectFull, input: PublishInput): Promise<PublishSpec> {
  let files: string[];
  try {
    files = normalizeSelection(stringList(input.files, 'files'));
  } catch (err) {
    if (err instanceof SelectionError) {
      await recordOp(svc, ctx, { action: 'publish', result: 'denied', project: project.name, detail: err.message });
      throw badRequest(err.message, { files: err.message });
    }
    throw err;
  }
  const revision = input.revision === undefined || input.revision === null || input.revision === '' ? undefined : Number(input.revision);
  if (revision !== undefined && !(Number.isInteger(revision) && revision > 0)) throw badRequest('The revision must be a positive whole number.', { revision: 'must be a positive integer' });
  const hosts = selectHosts(project, stringList(input.hosts, 'hosts'), stringList(input.groups, 'groups'));
  if (hosts.length === 0) throw badRequest('Choose at least one host or host group to publish to.', { hosts: 'required' });
  const note = typeof input.note === 'string' ? input.note.slice(0, 1000) : '';
  return { files, revision, note, hosts, author: ctx.actor.name };
}

/** Runs a publish job whose row exists, holding the project's slot: export, pack, send, extract, hooks. */
export function runPublish(core: JobCore, ctx: Ctx, job: { id: number; kind: string }, project: ProjectFull, spec: PublishSpec, slot: ProjectSlot): void {
  const { svc } = core;
  const { files, revision, note, hosts } = spec;
  launch(core, ctx, job, project, slot, async (emit) => {
    const plans = await hostPlans(svc, { ctx, jobId: job.id, kind: 'publish', emit }, project, hosts.map((h) => h.id));
    const unchanged = new Set(spec.unchanged?.hostIds ?? []);
    const skipped = hosts.filter((x) => plans.has(x.id) && unchanged.has(x.id));
    for (const h of skipped) {
      await emit({ type: 'output', host: h.name, text: `${PREVIEW_TEXT.skipped}\n` });
      await emit({ type: 'host', host: h.name, status: 'succeeded', phase: 'unchanged' });
    }
    // The bytes there are the release's: recorded as this job's, so files Ferry had forgotten (a rollback) are known again.
    if (spec.unchanged && skipped.length) await recordHostFiles(svc, project.id, skipped.map((h) => h.id), job.id, spec.unchanged.revision, spec.unchanged.files);
    const usable = hosts.filter((h) => plans.has(h.id) && !unchanged.has(h.id));
    if (usable.length === 0) return;
    const succeeded = succeededHosts(emit);
    const protect = await newestSuccessfulPublishPerHost(svc, project.id, hosts.map((h) => h.id));
    const foreign = await otherProjectsSnapshots(svc, project.id, hosts.map((h) => h.id));
    const outcome = await core.engine.publish({
      jobId: job.id, project: project.name, user: spec.author,
      keepSnapshots: project.keepSnapshots, concurrency: concurrencyOf(project),
      svn: { url: project.svnUrl, username: project.svnUsername, password: project.svnPasswordEnc ? decryptSecret(svc.secretKey, project.svnPasswordEnc) : null },
      revision, files, note,
      hosts: usable.map((h) => ({ ...plans.get(h.id)!, protectJobId: protect.get(h.id), foreignJobIds: foreign.get(h.id) ?? [] })),
      hooks: { beforePublish: hookSpecs(project, 'before-publish'), afterPublish: hookSpecs(project, 'after-publish') },
    }, succeeded.emit);
    const done = usable.filter((h) => succeeded.names.has(plans.get(h.id)!.name)).map((h) => h.id);
    if (outcome.files) await recordHostFiles(svc, project.id, done, job.id, outcome.revision, outcome.files);
    return { revision: outcome.revision };
  });
}

/** Per host, the newest publish of this project still in place: pruning keeps its snapshot. */
async function newestSuccessfulPublishPerHost(svc: Services, projectId: number, hostIds: number[]): Promise<Map<number, number>> {
  const rows = await svc.db.jobHost.findMany({
    where: { hostId: { in: hostIds }, status: 'succeeded', rolledBackByJobId: null, job: { projectId, kind: 'publish' } },
    orderBy: { jobId: 'desc' }, select: { hostId: true, jobId: true },
  });
  const map = new Map<number, number>();
  for (const r of rows) if (r.hostId !== null && !map.has(r.hostId)) map.set(r.hostId, r.jobId);
  return map;
}

/**
 * Snapshots other projects keep on these hosts. Two projects may share a deploy directory on a host; each prunes
 * only its own snapshots. The newest 500 per host are enough: older ones were pruned by their own project already.
 */
async function otherProjectsSnapshots(svc: Services, projectId: number, hostIds: number[]): Promise<Map<number, number[]>> {
  const map = new Map<number, number[]>();
  for (const hostId of hostIds) {
    const rows = await svc.db.jobHost.findMany({
      where: { hostId, snapshotTaken: true, rolledBackByJobId: null, job: { kind: 'publish', projectId: { not: projectId } } },
      orderBy: { jobId: 'desc' }, take: 500, select: { jobId: true },
    });
    if (rows.length) map.set(hostId, rows.map((r) => r.jobId));
  }
  return map;
}
