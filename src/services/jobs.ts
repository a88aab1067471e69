// Jobs: publish, rollback and process actions as persisted jobs with per-host results and live events.
// At most one publish or rollback runs per project; a second one is refused with 409.
import { EventEmitter } from 'node:events';
import type { Engine, HostPlan, ProcessAction } from '../deploy/runner-types.ts';
import { batchSizeOf, rollingProcessAction } from './rolling.ts';
import { normalizeSelection, SelectionError } from '../deploy/selection.ts';
import { decryptSecret } from '../lib/crypto.ts';
import { AppError, badRequest, conflict, notFound } from '../lib/errors.ts';
import { JOB_QUEUE } from '../config.ts';
import { ProjectLanes, type LaneTicket } from './job-queue.ts';
import { RANGES, storedDeployDirProblem } from './config/rules.ts';
import type { Ctx, Permission, Services } from './context.ts';
import { JobRecorder, type LiveJob } from './job-events.ts';
import { recordOp } from './oplog.ts';
import { assertCan, assertCanSee, can, canSeeProject } from './permissions.ts';
import { loadActor } from './users.ts';
import { safeWholeNumber } from './paging.ts';
import { resolveHostTargets } from './targets.ts';

export type JobKind = 'publish' | 'rollback' | 'process';
const ACTIVE = ['queued', 'running'];
const PROCESS_ACTIONS: ProcessAction[] = ['start', 'stop', 'restart', 'status'];

export interface PublishInput { files: unknown; revision?: unknown; hosts?: unknown; groups?: unknown; note?: unknown }
export interface ProcessInput { action: unknown; processes?: unknown; hosts?: unknown; groups?: unknown; batchSize?: unknown; batchPercent?: unknown }

/**
 * A job id from a URL: plain digits, exact as a number. Anything else is answered like an unknown job (404), so odd
 * input never reaches the database.
 */
export function jobIdParam(value: unknown): number {
  const id = safeWholeNumber(value);
  if (id === undefined || id <= 0) throw notFound('That job');
  return id;
}

const stringList = (value: unknown, field: string): string[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw badRequest(`"${field}" must be a list of names.`, { [field]: 'must be a list of strings' });
  return value as string[];
};

/** A stored concurrency is used only within today's range (an old install or a direct edit may hold more). */
const concurrencyOf = (project: { concurrency: number }) => Math.min(Math.max(Math.trunc(project.concurrency) || 1, RANGES.concurrency.min), RANGES.concurrency.max);

type ProjectFull = NonNullable<Awaited<ReturnType<JobRunner['loadProject']>>>;

export class JobRunner {
  private live = new Map<number, LiveJob>();
  /** projectId -> jobId (0 while the job row is being created). */
  private locks = new Map<number, number>();
  private tasks = new Set<Promise<void>>();
  /** Process jobs wait here per project; publish and rollback use `locks` (refused with 409 instead of waiting). */
  private processLanes = new ProjectLanes(JOB_QUEUE.processJobsPerProject, JOB_QUEUE.maxQueuedPerProject);

  constructor(private readonly svc: Services, private readonly engine: Engine) {}

  /** Start-up: jobs a crash left running can never finish; say so instead of showing them running forever. */
  async markInterrupted(): Promise<number> {
    const stale = await this.svc.db.job.findMany({ where: { status: { in: ACTIVE } }, select: { id: true, projectId: true, kind: true, project: { select: { name: true } } } });
    for (const job of stale) {
      await this.svc.db.$transaction([
        this.svc.db.jobHost.updateMany({ where: { jobId: job.id, status: { in: ACTIVE } }, data: { status: 'failed', phase: 'interrupted', error: 'Ferry stopped while this host was in progress.', finishedAt: new Date() } }),
        this.svc.db.job.update({ where: { id: job.id }, data: { status: 'interrupted', finishedAt: new Date(), error: 'Ferry stopped before the job finished. Check each host; a publish can be rolled back.' } }),
      ]);
      await recordOp(this.svc, { actor: null, ip: '', userName: 'system' }, { action: `${job.kind}.interrupted`, result: 'failed', project: job.project.name, jobId: job.id, target: `job #${job.id}`, detail: 'marked interrupted at start-up' });
    }
    return stale.length;
  }

  private loadProject(name: string) {
    return this.svc.db.project.findUnique({
      where: { name },
      include: {
        groups: { include: { hosts: { select: { id: true, name: true } } } },
        processes: { include: { groups: { include: { hosts: { select: { id: true, name: true } } } } } },
        hooks: { orderBy: [{ position: 'asc' }, { id: 'asc' }] },
      },
    });
  }

  private async projectFor(ctx: Ctx, name: string, action: string): Promise<ProjectFull> {
    const project = await this.loadProject(name);
    if (!project) throw notFound(`Project "${name}"`);
    await assertCanSee(this.svc, ctx, project, action);
    return project;
  }

  /** Claims the project's publish/rollback slot synchronously, so two requests cannot both pass the check. */
  private async claimProject(ctx: Ctx, project: { id: number; name: string }, action: string): Promise<() => void> {
    const describe = async (jobId: number) => {
      const job = jobId ? await this.svc.db.job.findUnique({ where: { id: jobId } }) : null;
      return job ? `${job.kind} job #${job.id} started by ${job.userName}` : 'another publish';
    };
    const held = this.locks.get(project.id);
    if (held !== undefined) {
      const msg = `Project "${project.name}" is busy: ${await describe(held)} is still running. Wait for it to finish, then try again.`;
      await recordOp(this.svc, ctx, { action, result: 'denied', project: project.name, detail: msg });
      throw conflict(msg);
    }
    this.locks.set(project.id, 0);
    const release = () => this.locks.delete(project.id);
    // Also respect a job row left active by another process sharing the database.
    const active = await this.svc.db.job.findFirst({ where: { projectId: project.id, kind: { in: ['publish', 'rollback'] }, status: { in: ACTIVE } } });
    if (active) {
      release();
      const msg = `Project "${project.name}" is busy: ${active.kind} job #${active.id} started by ${active.userName} is still running. Wait for it to finish, then try again.`;
      await recordOp(this.svc, ctx, { action, result: 'denied', project: project.name, detail: msg });
      throw conflict(msg);
    }
    return release;
  }

  /** Hosts named directly or through groups; all must belong to one of the project's groups. */
  private selectHosts(project: ProjectFull, hostNames: string[], groupNames: string[]): { id: number; name: string }[] {
    const inProject = new Map<string, { id: number; name: string }>();
    for (const g of project.groups) for (const h of g.hosts) inProject.set(h.name, h);
    const chosen = new Map<string, { id: number; name: string }>();
    for (const gName of groupNames) {
      const group = project.groups.find((g) => g.name === gName);
      if (!group) throw badRequest(`Project "${project.name}" has no host group "${gName}".`, { groups: `unknown group "${gName}"` });
      for (const h of group.hosts) chosen.set(h.name, h);
    }
    for (const hName of hostNames) {
      const host = inProject.get(hName);
      if (!host) throw badRequest(`Host "${hName}" is not in any host group of project "${project.name}".`, { hosts: `unknown host "${hName}"` });
      chosen.set(host.name, host);
    }
    return [...chosen.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private async createJob(ctx: Ctx, project: { id: number }, data: { kind: JobKind; revision?: number | null; files?: string[]; params?: object; note?: string; queued?: boolean }, hosts: { id: number; name: string }[]) {
    return this.svc.db.job.create({
      data: {
        kind: data.kind, status: data.queued ? 'queued' : 'running', projectId: project.id, userId: ctx.actor.id, userName: ctx.actor.name,
        revision: data.revision ?? null, files: JSON.stringify(data.files ?? []), params: JSON.stringify(data.params ?? {}),
        note: data.note ?? '', startedAt: data.queued ? null : new Date(),
        hosts: { create: hosts.map((h) => ({ hostId: h.id, hostName: h.name })) },
      },
    });
  }

  /** Runs the engine part in the background; records the outcome whatever happens. */
  private launch(ctx: Ctx, job: { id: number; kind: string }, project: { id: number; name: string }, release: (() => void) | null,
    work: (emit: JobRecorder['emit']) => Promise<{ revision?: number } | void>, lane?: LaneTicket, recheck?: () => Promise<void>) {
    const emitter = new EventEmitter();
    emitter.setMaxListeners(0);
    const recorder = new JobRecorder(this.svc, job.id, emitter);
    this.live.set(job.id, { emitter, projectId: project.id, kind: job.kind, recorder });
    if (release) this.locks.set(project.id, job.id);
    const task = (async () => {
      let error: string | null = null;
      let revision: number | undefined;
      try {
        if (lane) {
          await lane.turn();
          // The permission was checked when the job was queued; it may have been withdrawn while it waited.
          await recheck?.();
          await this.svc.db.job.update({ where: { id: job.id }, data: { status: 'running', startedAt: new Date() } });
          recorder.emit({ type: 'job', status: 'running', message: 'started' });
        }
        revision = (await work(recorder.emit))?.revision;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        this.svc.logger.warn({ jobId: job.id, err: error }, 'job failed');
      }
      await recorder.drain();
      const status = await this.finish(job.id, error, revision);
      recorder.emit({ type: 'job', status, message: error ?? undefined });
      await recordOp(this.svc, ctx, {
        action: `${job.kind}.finish`, result: status === 'succeeded' ? 'ok' : 'failed', project: project.name,
        target: `job #${job.id}`, jobId: job.id, detail: error ?? `status ${status}`,
      });
    })().catch((err) => this.svc.logger.error({ err, jobId: job.id }, 'could not finish job'))
      .finally(() => {
        release?.();
        lane?.leave();
        this.live.get(job.id)?.emitter.emit('end');
        this.live.delete(job.id);
        this.tasks.delete(task);
      });
    this.tasks.add(task);
  }

  private async finish(jobId: number, error: string | null, revision?: number): Promise<string> {
    if (error) {
      await this.svc.db.jobHost.updateMany({ where: { jobId, status: { in: ACTIVE } }, data: { status: 'failed', phase: 'failed', error: `Not done: ${error}`, finishedAt: new Date() } });
    }
    const hosts = await this.svc.db.jobHost.findMany({ where: { jobId }, select: { status: true } });
    const ok = hosts.filter((h) => h.status === 'succeeded').length;
    const status = error && ok === 0 ? 'failed' : ok === hosts.length ? 'succeeded' : ok === 0 ? 'failed' : 'partial';
    await this.svc.db.job.update({ where: { id: jobId }, data: { status, error, finishedAt: new Date(), ...(revision !== undefined ? { revision } : {}) } });
    return status;
  }

  private hookSpecs(project: ProjectFull, stage: string) {
    return project.hooks.filter((h) => h.stage === stage).map((h) => ({ name: h.name, script: h.script, timeoutMs: h.timeoutSec * 1000 }));
  }

  /**
   * Per host: where and how to reach it. Stored values are checked again here, because an old install may hold a
   * deploy directory today's forms refuse ("/", "/srv/../etc"): such a host fails with the reason and is never
   * contacted; the others go ahead. Refused hosts are absent from the returned map.
   */
  private async plans(run: { ctx: Ctx; jobId: number; kind: string; emit: JobRecorder['emit'] }, project: { name: string; deployDir: string }, ids: number[]): Promise<Map<number, HostPlan>> {
    const targets = await resolveHostTargets(this.svc, ids);
    const rows = await this.svc.db.host.findMany({ where: { id: { in: ids } }, select: { id: true, deployDir: true, relayMode: true } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const relayModeOf = (mode: string): HostPlan['relayMode'] => (mode === 'tunnel' || mode === 'store-forward' ? mode : 'auto');
    const plans = new Map<number, HostPlan>();
    for (const id of ids) {
      const row = byId.get(id)!;
      const name = targets.get(id)!.name;
      const deployDir = row.deployDir || project.deployDir;
      const problem = storedDeployDirProblem(deployDir);
      if (problem) {
        const owner = row.deployDir ? `the host's deploy directory` : `the deploy directory of project ${project.name}`;
        const error = `deploy directory "${deployDir}" of host ${name} is not allowed: edit ${owner} (it ${problem})`;
        await run.emit({ type: 'host', host: name, status: 'failed', phase: 'refused', error });
        await recordOp(this.svc, run.ctx, { action: `${run.kind}.host-refused`, result: 'failed', project: project.name, target: name, jobId: run.jobId, detail: error });
        continue;
      }
      plans.set(id, { name, target: targets.get(id)!, deployDir, relayMode: relayModeOf(row.relayMode) });
    }
    return plans;
  }

  // ---- publish ----
  async startPublish(ctx: Ctx, projectName: string, input: PublishInput): Promise<{ jobId: number }> {
    const project = await this.projectFor(ctx, projectName, 'publish');
    await assertCan(this.svc, ctx, 'publish', project, 'publish');
    let files: string[];
    try {
      files = normalizeSelection(stringList(input.files, 'files'));
    } catch (err) {
      if (err instanceof SelectionError) {
        await recordOp(this.svc, ctx, { action: 'publish', result: 'denied', project: project.name, detail: err.message });
        throw badRequest(err.message, { files: err.message });
      }
      throw err;
    }
    const revision = input.revision === undefined || input.revision === null || input.revision === '' ? undefined : Number(input.revision);
    if (revision !== undefined && !(Number.isInteger(revision) && revision > 0)) throw badRequest('The revision must be a positive whole number.', { revision: 'must be a positive integer' });
    const hosts = this.selectHosts(project, stringList(input.hosts, 'hosts'), stringList(input.groups, 'groups'));
    if (hosts.length === 0) throw badRequest('Choose at least one host or host group to publish to.', { hosts: 'required' });
    const note = typeof input.note === 'string' ? input.note.slice(0, 1000) : '';

    const release = await this.claimProject(ctx, project, 'publish');
    let job;
    try {
      job = await this.createJob(ctx, project, { kind: 'publish', revision: revision ?? null, files, note }, hosts);
      await recordOp(this.svc, ctx, { action: 'publish.start', result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: `r${revision ?? 'HEAD'}, ${files.length} path(s) to ${hosts.length} host(s)` });
    } catch (err) {
      release();
      if (job) await this.finish(job.id, err instanceof Error ? err.message : String(err));
      throw err;
    }
    this.launch(ctx, job, project, release, async (emit) => {
      const plans = await this.plans({ ctx, jobId: job.id, kind: 'publish', emit }, project, hosts.map((h) => h.id));
      const usable = hosts.filter((h) => plans.has(h.id));
      if (usable.length === 0) return;
      const protect = await this.newestSuccessfulPublishPerHost(project.id, hosts.map((h) => h.id));
      const foreign = await this.otherProjectsSnapshots(project.id, hosts.map((h) => h.id));
      const outcome = await this.engine.publish({
        jobId: job.id, project: project.name, user: ctx.actor.name,
        keepSnapshots: project.keepSnapshots, concurrency: concurrencyOf(project),
        svn: { url: project.svnUrl, username: project.svnUsername, password: project.svnPasswordEnc ? decryptSecret(this.svc.secretKey, project.svnPasswordEnc) : null },
        revision, files, note,
        hosts: usable.map((h) => ({ ...plans.get(h.id)!, protectJobId: protect.get(h.id), foreignJobIds: foreign.get(h.id) ?? [] })),
        hooks: { beforePublish: this.hookSpecs(project, 'before-publish'), afterPublish: this.hookSpecs(project, 'after-publish') },
      }, emit);
      return { revision: outcome.revision };
    });
    return { jobId: job.id };
  }

  private async newestSuccessfulPublishPerHost(projectId: number, hostIds: number[]): Promise<Map<number, number>> {
    const rows = await this.svc.db.jobHost.findMany({
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
  private async otherProjectsSnapshots(projectId: number, hostIds: number[]): Promise<Map<number, number[]>> {
    const map = new Map<number, number[]>();
    for (const hostId of hostIds) {
      const rows = await this.svc.db.jobHost.findMany({
        where: { hostId, snapshotTaken: true, rolledBackByJobId: null, job: { kind: 'publish', projectId: { not: projectId } } },
        orderBy: { jobId: 'desc' }, take: 500, select: { jobId: true },
      });
      if (rows.length) map.set(hostId, rows.map((r) => r.jobId));
    }
    return map;
  }

  // ---- rollback ----
  /** What rolling back `jobId` would undo, per host: that publish and every later one still in place, newest first. */
  async rollbackPlan(ctx: Ctx, jobId: number) {
    const target = await this.rollbackTarget(ctx, jobId);
    return { target, ...(await this.planRollback(target)) };
  }

  private async rollbackTarget(ctx: Ctx, jobId: number) {
    const target = await this.svc.db.job.findUnique({ where: { id: jobId }, include: { project: true, hosts: true } });
    if (!target) throw notFound(`Job #${jobId}`);
    await this.assertJobVisible(ctx, target, 'rollback');
    if (target.kind !== 'publish') throw badRequest(`Job #${jobId} is a ${target.kind} job; only publish jobs can be rolled back.`);
    return target;
  }

  private async planRollback(target: { id: number; projectId: number; hosts: { hostId: number | null; snapshotTaken: boolean; rolledBackByJobId: number | null }[] }) {
    const touched = target.hosts.filter((h) => h.snapshotTaken && h.hostId !== null && h.rolledBackByJobId === null).map((h) => h.hostId!);
    const later = await this.svc.db.jobHost.findMany({
      where: { hostId: { in: touched }, snapshotTaken: true, rolledBackByJobId: null, jobId: { gte: target.id }, job: { projectId: target.projectId, kind: 'publish' } },
      orderBy: { jobId: 'desc' }, select: { hostId: true, jobId: true },
    });
    // Hosts are named as they are called now: a host may have been renamed since it was published to.
    const names = new Map((await this.svc.db.host.findMany({ where: { id: { in: touched } }, select: { id: true, name: true } })).map((h) => [h.id, h.name]));
    const perHost = new Map<number, { hostId: number; hostName: string; jobIds: number[] }>();
    for (const row of later) {
      const entry = perHost.get(row.hostId!) ?? { hostId: row.hostId!, hostName: names.get(row.hostId!)!, jobIds: [] };
      entry.jobIds.push(row.jobId);
      perHost.set(row.hostId!, entry);
    }
    const undoes = [...new Set(later.map((r) => r.jobId))].sort((a, b) => b - a);
    return { hosts: [...perHost.values()].sort((a, b) => a.hostName.localeCompare(b.hostName)), undoes };
  }

  async startRollback(ctx: Ctx, jobId: number): Promise<{ jobId: number }> {
    const target = await this.rollbackTarget(ctx, jobId);
    const project = target.project;
    await assertCan(this.svc, ctx, 'rollback', project, 'rollback');
    // The plan is made under the project lock, so no publish can finish between planning and running.
    const release = await this.claimProject(ctx, project, 'rollback');
    let job;
    let hosts: Awaited<ReturnType<JobRunner['planRollback']>>['hosts'];
    try {
      ({ hosts } = await this.planRollback(target));
      if (hosts.length === 0) throw badRequest(`Job #${jobId} left nothing to roll back: no host has a snapshot from it, or it was already rolled back.`);
      job = await this.createJob(ctx, project, { kind: 'rollback', params: { targetJobId: jobId, undoes: hosts.map((h) => ({ host: h.hostName, jobIds: h.jobIds })) } },
        hosts.map((h) => ({ id: h.hostId, name: h.hostName })));
      await recordOp(this.svc, ctx, { action: 'rollback.start', result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: `rolls back job #${jobId} on ${hosts.length} host(s)` });
    } catch (err) {
      release();
      if (job) await this.finish(job.id, err instanceof Error ? err.message : String(err));
      throw err;
    }
    const rollbackJob = job;
    this.launch(ctx, rollbackJob, project, release, async (emit) => {
      const plans = await this.plans({ ctx, jobId: rollbackJob.id, kind: 'rollback', emit }, project, hosts.map((h) => h.hostId));
      const usable = hosts.filter((h) => plans.has(h.hostId));
      if (usable.length === 0) return;
      const marks: Promise<unknown>[] = [];
      // Each host is marked as soon as it reports, so a crash mid-rollback still leaves an accurate record.
      const markRestored = (hostName: string, jobIds: number[]) => {
        const host = hosts.find((x) => x.hostName === hostName);
        if (!host || jobIds.length === 0) return;
        marks.push(this.svc.db.jobHost.updateMany({ where: { hostId: host.hostId, jobId: { in: jobIds } }, data: { rolledBackByJobId: rollbackJob.id } }));
      };
      const track = (event: Parameters<typeof emit>[0]) => {
        if (event.type === 'host' && event.status === 'succeeded') markRestored(event.host, hosts.find((x) => x.hostName === event.host)?.jobIds ?? []);
        if (event.type === 'host' && event.status === 'failed' && event.restoredJobIds) markRestored(event.host, event.restoredJobIds);
        return emit(event);
      };
      try {
        await this.engine.rollback({
          jobId: rollbackJob.id, project: project.name, user: ctx.actor.name, concurrency: concurrencyOf(project),
          hosts: usable.map((h) => ({ ...plans.get(h.hostId)!, jobIds: h.jobIds })),
        }, track);
      } finally {
        await Promise.all(marks);
      }
    });
    return { jobId: rollbackJob.id };
  }

  // ---- process control ----
  async startProcessAction(ctx: Ctx, projectName: string, input: ProcessInput): Promise<{ jobId: number }> {
    const project = await this.projectFor(ctx, projectName, 'process');
    await assertCan(this.svc, ctx, 'process', project, 'process');
    const action = input.action as ProcessAction;
    if (!PROCESS_ACTIONS.includes(action)) throw badRequest(`The action must be one of ${PROCESS_ACTIONS.join(', ')}.`, { action: 'unknown action' });
    const names = stringList(input.processes, 'processes');
    for (const n of names) if (!project.processes.some((p) => p.name === n)) throw badRequest(`Project "${project.name}" has no process "${n}".`, { processes: `unknown process "${n}"` });
    const processes = names.length ? project.processes.filter((p) => names.includes(p.name)) : project.processes;
    if (processes.length === 0) throw badRequest(`Project "${project.name}" has no processes configured.`);
    const hostNames = stringList(input.hosts, 'hosts');
    const groupNames = stringList(input.groups, 'groups');
    const limit = hostNames.length || groupNames.length ? new Set(this.selectHosts(project, hostNames, groupNames).map((h) => h.id)) : null;

    const perHost = new Map<number, { host: { id: number; name: string }; processes: typeof processes }>();
    for (const p of processes) {
      for (const g of p.groups) for (const h of g.hosts) {
        if (limit && !limit.has(h.id)) continue;
        const entry = perHost.get(h.id) ?? { host: h, processes: [] };
        if (!entry.processes.includes(p)) entry.processes.push(p);
        perHost.set(h.id, entry);
      }
    }
    const items = [...perHost.values()].sort((a, b) => a.host.name.localeCompare(b.host.name));
    if (items.length === 0) throw badRequest('None of the chosen hosts runs the chosen processes.');
    const batchSize = batchSizeOf(input, items.length);
    const lane = this.processLanes.admit(project.id);
    if (!lane) {
      const msg = `Project "${project.name}" already has ${this.processLanes.admitted(project.id)} process jobs running or waiting. Wait for some of them to finish, then try again.`;
      await recordOp(this.svc, ctx, { action: `process.${action}`, result: 'denied', project: project.name, detail: msg });
      throw new AppError(429, msg);
    }
    let job;
    try {
      job = await this.createJob(ctx, project, { kind: 'process', queued: true, params: { action, processes: processes.map((p) => p.name), ...(batchSize ? { batchSize } : {}) } }, items.map((i) => i.host));
      await recordOp(this.svc, ctx, { action: `process.${action}`, result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: `${processes.map((p) => p.name).join(', ')} on ${items.length} host(s)${batchSize ? ` in batches of ${batchSize}` : ''}` });
    } catch (err) {
      lane.leave();
      if (job) await this.finish(job.id, err instanceof Error ? err.message : String(err));
      throw err;
    }
    this.launch(ctx, job, project, null, async (emit) => {
      const plans = await this.plans({ ctx, jobId: job.id, kind: 'process', emit }, project, items.map((i) => i.host.id));
      const usable = items.filter((i) => plans.has(i.host.id));
      if (usable.length === 0) return;
      const request = (hosts: typeof items, act: ProcessAction) => ({
        jobId: job.id, project: project.name, user: ctx.actor.name, concurrency: concurrencyOf(project), action: act,
        hosts: hosts.map((i) => ({ ...plans.get(i.host.id)!, processes: i.processes.map((p) => ({ name: p.name, startCmd: p.startCmd, stopCmd: p.stopCmd, statusCmd: p.statusCmd })) })),
        hooks: { beforeRestart: this.hookSpecs(project, 'before-restart'), afterRestart: this.hookSpecs(project, 'after-restart') },
      });
      if (!batchSize) return void (await this.engine.processAction(request(usable, action), emit));
      await rollingProcessAction(usable, batchSize, action, emit, (hosts, act, sink) => this.engine.processAction(request(hosts, act), sink));
    }, lane, () => this.assertStillAllowed(ctx, project, 'process', `process.${action}`, job.id));
    return { jobId: job.id };
  }

  /**
   * For a job that waited its turn: the user must still exist, be enabled and hold the permission now. If not, the
   * refusal is logged and the job ends failed without contacting any host.
   */
  private async assertStillAllowed(ctx: Ctx, project: { id: number; name: string }, permission: Permission, action: string, jobId: number): Promise<void> {
    if (ctx.actor.id === null) return; // the CLI acts as the operator on the server itself
    const now = await loadActor(this.svc, ctx.actor.id);
    if (now && can(now, permission, project.id)) return;
    const msg = 'permission withdrawn while queued';
    await recordOp(this.svc, ctx, { action, result: 'denied', project: project.name, target: `job #${jobId}`, jobId, detail: `${msg}: ${now ? `missing "${permission}" permission` : 'the user was disabled or deleted'}` });
    throw new Error(msg);
  }

  // ---- retry ----
  /** Runs a finished job again on the hosts where it failed (a publish keeps its files and exact revision). */
  async retry(ctx: Ctx, jobId: number): Promise<{ jobId: number }> {
    const job = await this.svc.db.job.findUnique({ where: { id: jobId }, include: { project: true, hosts: true } });
    if (!job) throw notFound(`Job #${jobId}`);
    await this.assertJobVisible(ctx, job, 'retry');
    if (ACTIVE.includes(job.status)) throw conflict(`Job #${jobId} is still running; wait for it to finish before retrying.`);
    const params = JSON.parse(job.params) as { action?: string; processes?: string[]; targetJobId?: number; batchSize?: number };
    if (job.kind === 'rollback') return this.startRollback(ctx, params.targetJobId!);
    const failedIds = job.hosts.filter((h) => h.status !== 'succeeded' && h.hostId !== null).map((h) => h.hostId!);
    if (failedIds.length === 0) throw badRequest(`Job #${jobId} succeeded on every host (or its failed hosts were deleted); there is nothing to retry.`);
    // By id, so a host renamed since then is still found.
    const failedHosts = (await this.svc.db.host.findMany({ where: { id: { in: failedIds } }, select: { name: true } })).map((h) => h.name);
    if (job.kind === 'publish') {
      return this.startPublish(ctx, job.project.name, {
        files: JSON.parse(job.files), revision: job.revision ?? undefined, hosts: failedHosts, note: `retry of job #${jobId}`,
      });
    }
    return this.startProcessAction(ctx, job.project.name, { action: params.action, processes: params.processes, hosts: failedHosts, batchSize: params.batchSize });
  }

  /**
   * A job of a project the actor cannot see is answered exactly like a job that does not exist (404), so job ids
   * reveal neither project names nor which ids exist. The refusal is still written to the operation log.
   */
  private async assertJobVisible(ctx: Ctx, job: { id: number; project: { id: number; name: string } }, action: string): Promise<void> {
    if (canSeeProject(ctx.actor, job.project.id)) return;
    await recordOp(this.svc, ctx, { action, result: 'denied', project: job.project.name, target: `job #${job.id}`, detail: 'no grant on this project' });
    throw notFound(`Job #${job.id}`);
  }

  // ---- reading ----
  async getJob(ctx: Ctx, jobId: number) {
    const job = await this.svc.db.job.findUnique({ where: { id: jobId }, include: { project: { select: { id: true, name: true } }, hosts: { orderBy: { hostName: 'asc' } } } });
    if (!job) throw notFound(`Job #${jobId}`);
    await this.assertJobVisible(ctx, job, 'job.view');
    return {
      id: job.id, kind: job.kind, status: job.status, project: job.project.name, user: job.userName, revision: job.revision,
      files: JSON.parse(job.files) as string[], params: JSON.parse(job.params) as Record<string, unknown>, note: job.note, error: job.error, output: job.output,
      createdAt: job.createdAt, startedAt: job.startedAt, finishedAt: job.finishedAt,
      hosts: job.hosts.map((h) => ({
        host: h.hostName, status: h.status, phase: h.phase, error: h.error, output: h.output, exitCode: h.exitCode,
        snapshotTaken: h.snapshotTaken, rolledBackByJobId: h.rolledBackByJobId, startedAt: h.startedAt, finishedAt: h.finishedAt,
      })),
    };
  }

  /** Live events of a running job; returns null when the job is not running in this process. */
  subscribe(jobId: number, onEvent: (e: unknown) => void, onEnd: () => void): (() => void) | null {
    const live = this.live.get(jobId);
    if (!live) return null;
    live.emitter.on('event', onEvent);
    live.emitter.once('end', onEnd);
    return () => {
      live.emitter.off('event', onEvent);
      live.emitter.off('end', onEnd);
    };
  }

  /** Writes a running job's buffered output to the database (so a snapshot read next is complete). */
  async flush(jobId: number): Promise<void> {
    await this.live.get(jobId)?.recorder.drain();
  }

  isRunning(jobId: number): boolean {
    return this.live.has(jobId);
  }

  /** For tests and shutdown: resolves when every job started so far has finished. */
  async idle(): Promise<void> {
    while (this.tasks.size) await Promise.all([...this.tasks]);
  }
}

