// Publish: check the chosen files (and exclusions), revision, hosts and waves, then either store a request for approval
// (approval.ts) or claim the project's slot and let the engine export, pack, send and extract (wave by wave:
// waves.ts), telling it which snapshots on each host must survive pruning.
import { normalizeRelease, SelectionError } from '../../deploy/selection.ts';
import { decryptSecret } from '../../lib/crypto.ts';
import { badRequest } from '../../lib/errors.ts';
import type { Ctx, Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { assertCan } from '../permissions.ts';
import { requestApproval } from './approval.ts';
import { abandon, launch, type JobCore } from './launch.ts';
import type { ProjectSlot } from './lock.ts';
import { recordedHashes, recordHostFiles, succeededHosts } from './host-files.ts';
import { concurrencyOf, hookSpecs, hostPlans } from './plans.ts';
import { selectHosts, stringList } from './request.ts';
import type { JobStatus } from './status.ts';
import { createJob, projectFor, type ProjectFull } from './store.ts';
import { publishInWaves } from './waves.ts';
import { initialState, planWaves, saveWavePlan, waveSettings, type PlannedWaves } from './waves-plan.ts';

export interface PublishInput {
  files: unknown; exclude?: unknown; revision?: unknown; hosts?: unknown; groups?: unknown; note?: unknown; waves?: unknown;
  /** Publish even over files edited by hand on a host. */ overwriteDrift?: unknown;
}

/** What a publish will do, checked: the same for one started now and one started when its request is approved. */
export interface PublishSpec {
  files: string[];
  /** Paths inside selected folders left out ("this folder except these"); stored in Job.params. */
  exclude: string[];
  revision?: number;
  note: string;
  hosts: { id: number; name: string }[];
  /** The waves it goes in, or null for every host at once. */
  waves: PlannedWaves | null;
  /** Who asked for it: the job's author (FERRY_USER for hooks). */
  author: string;
  /** Publish over files edited by hand on a host (each host's release program checks them, steps/drift.ts). */
  overwriteDrift?: boolean;
}

/** `plannedWaves`: waves already cut (Continue anyway, retry of a publish in waves); the request's `waves` is then ignored. */
export async function startPublish(core: JobCore, ctx: Ctx, projectName: string, input: PublishInput, plannedWaves?: PlannedWaves): Promise<{ jobId: number; status: JobStatus }> {
  const { svc } = core;
  const project = await projectFor(svc, ctx, projectName, 'publish');
  await assertCan(svc, ctx, 'publish', project, 'publish');
  const spec = await publishSpec(svc, ctx, project, input, plannedWaves);
  const { files, exclude, revision, hosts, note, waves } = spec;
  const excepts = exclude.length ? ` except ${exclude.length} path(s)` : '';
  const what = `r${revision ?? 'HEAD'}, ${files.length} path(s)${excepts} to ${hosts.length} host(s)${waves ? ` in ${waves.waves.length} wave(s)` : ''}`;
  const params = exclude.length || spec.overwriteDrift ? { ...(exclude.length ? { exclude } : {}), ...(spec.overwriteDrift ? { overwriteDrift: true } : {}) } : undefined;
  const row = { kind: 'publish' as const, revision: revision ?? null, files, params, note };
  if (project.requireApproval) {
    return requestApproval(svc, ctx, project, row, hosts, what, async (jobId) => { if (waves) await saveWavePlan(svc, jobId, waves); });
  }

  const slot = await core.locks.claim(ctx, project, 'publish');
  let job;
  try {
    job = await createJob(svc, ctx, project, row, hosts);
    if (waves) await saveWavePlan(svc, job.id, waves);
    await recordOp(svc, ctx, { action: 'publish.start', result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: what });
  } catch (err) {
    slot.release();
    if (job) await abandon(svc, job.id, err);
    throw err;
  }
  runPublish(core, ctx, job, project, spec, slot);
  return { jobId: job.id, status: 'running' };
}

export async function publishSpec(svc: Services, ctx: Ctx, project: ProjectFull, input: PublishInput, plannedWaves?: PlannedWaves): Promise<PublishSpec> {
  let files: string[];
  let exclude: string[];
  try {
    ({ files, exclude } = normalizeRelease(stringList(input.files, 'files'), stringList(input.exclude, 'exclude')));
  } catch (err) {
    if (err instanceof SelectionError) {
      await recordOp(svc, ctx, { action: 'publish', result: 'denied', project: project.name, detail: err.message });
      throw badRequest(err.message, { files: err.message });
    }
    throw err;
  }
  const revision = input.revision === undefined || input.revision === null || input.revision === '' ? undefined : Number(input.revision);
  if (revision !== undefined && !(Number.isInteger(revision) && revision > 0)) throw badRequest('The revision must be a positive whole number.', { revision: 'must be a positive integer' });
  const groupNames = stringList(input.groups, 'groups');
  const hosts = selectHosts(project, stringList(input.hosts, 'hosts'), groupNames);
  if (hosts.length === 0) throw badRequest('Choose at least one host or host group to publish to.', { hosts: 'required' });
  const settings = plannedWaves ? null : waveSettings(project, input.waves, hosts);
  const waves = plannedWaves ?? (settings ? planWaves(project, settings, hosts, groupNames) : null);
  const note = typeof input.note === 'string' ? input.note.slice(0, 1000) : '';
  return { files, exclude, revision, note, hosts, waves, author: ctx.actor.name, overwriteDrift: input.overwriteDrift === true };
}

/** Runs a publish job whose row exists, holding the project's slot: export, pack, send, extract, hooks (in waves). */
export function runPublish(core: JobCore, ctx: Ctx, job: { id: number; kind: string }, project: ProjectFull, spec: PublishSpec, slot: ProjectSlot): void {
  const { svc } = core;
  const { files, exclude, revision, note, hosts, waves } = spec;
  launch(core, ctx, job, project, slot, async (emit) => {
    const plans = await hostPlans(svc, { ctx, jobId: job.id, kind: 'publish', emit }, project, hosts.map((h) => h.id));
    const usable = hosts.filter((h) => plans.has(h.id));
    if (usable.length === 0) return;
    // What Ferry put on each host: each host's program checks it for hand edits before it receives anything. Hosts
    // holding every file already are skipped (not in waves: each wave runs its gate; not with before-publish hooks,
    // which may change the files after they leave SVN).
    const records = await recordedHashes(svc, project.id, usable.map((h) => h.id));
    const drift = { overwrite: spec.overwriteDrift === true, skipUnchanged: !waves && !project.hooks.some((h) => h.stage === 'before-publish') };
    const protect = await newestSuccessfulPublishPerHost(svc, project.id, hosts.map((h) => h.id));
    const foreign = await otherProjectsSnapshots(svc, project.id, hosts.map((h) => h.id));
    // One engine publish (a wave, or every host); what landed on the hosts that succeeded is recorded (HostFile).
    const publishTo = async (ids: number[], sink: typeof emit, rev = revision) => {
      const succeeded = succeededHosts(sink);
      const outcome = await core.engine.publish({
        jobId: job.id, project: project.name, user: spec.author,
        keepSnapshots: project.keepSnapshots, concurrency: concurrencyOf(project),
        svn: { url: project.svnUrl, username: project.svnUsername, password: project.svnPasswordEnc ? decryptSecret(svc.secretKey, project.svnPasswordEnc) : null },
        revision: rev, files, ...(exclude.length ? { exclude } : {}), note,
        hosts: ids.map((id) => ({ ...plans.get(id)!, protectJobId: protect.get(id), foreignJobIds: foreign.get(id) ?? [], recorded: records.get(id) ?? [] })),
        hooks: { beforePublish: hookSpecs(project, 'before-publish'), afterPublish: hookSpecs(project, 'after-publish') },
        drift,
      }, succeeded.emit);
      // Hosts skipped as unchanged hold the release's bytes: recorded as this job's, so files Ferry had forgotten (a
      // rollback) are known again.
      const done = ids.filter((id) => succeeded.names.has(plans.get(id)!.name));
      if (outcome.files) await recordHostFiles(svc, project.id, done, job.id, outcome.revision, outcome.files);
      await recordDrift(svc, ctx, project.name, job.id, outcome.drift ?? []);
      return outcome;
    };
    if (waves) {
      const state = initialState(waves);
      return publishInWaves(core, { ctx, jobId: job.id, project, state, hostIds: new Map(hosts.map((h) => [h.name, h.id])), plans, emit }, publishTo);
    }
    const outcome = await publishTo(usable.map((h) => h.id), emit);
    return { revision: outcome.revision };
  });
}

/** The operation log of hand edits the hosts found: overwritten as asked, or refused (those hosts failed untouched). */
async function recordDrift(svc: Services, ctx: Ctx, project: string, jobId: number, drift: { host: string; paths: string[]; overwritten: boolean }[]): Promise<void> {
  const detail = (found: typeof drift) => found.map((d) => `${d.host}: ${d.paths.join(', ')}`).join('; ').slice(0, 2000);
  const overwritten = drift.filter((d) => d.overwritten);
  const refused = drift.filter((d) => !d.overwritten);
  if (overwritten.length) await recordOp(svc, ctx, { action: 'publish.overwrite-drift', result: 'ok', project, target: `job #${jobId}`, jobId, detail: detail(overwritten) });
  if (refused.length) await recordOp(svc, ctx, { action: 'publish', result: 'denied', project, target: `job #${jobId}`, jobId, detail: `files edited by hand were not overwritten on ${detail(refused)}`.slice(0, 2000) });
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
