// Publishing in waves, the run: each wave is one engine publish to its hosts, then the gate (restart the chosen
// process, poll its status until it passes on every host or the timeout), then a pause or a wait for Continue.
// A failed wave stops the job before the next one; Continue anyway publishes the waves left in a new job.
import { setTimeout as sleep } from 'node:timers/promises';
import { WAVES } from '../../config.ts';
import type { HostPlan, ProcessAction, PublishOutcome } from '../../deploy/runner-types.ts';
import type { EventSink, JobEvent } from '../../deploy/types.ts';
import { FerryError } from '../../lib/errors.ts';
import { fill, tk } from '../../lib/messages.ts';
import type { Ctx } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { assertCan } from '../permissions.ts';
import type { JobCore } from './launch.ts';
import { concurrencyOf, hookSpecs } from './plans.ts';
import { excludeOf, jobNotFound } from './request.ts';
import { isActiveStatus, neverRan } from './status.ts';
import { assertJobVisible, type ProjectFull } from './store.ts';
import { parseWaves, type PlannedWaves, type WaveStatus, type WavesState } from './waves-plan.ts';

/** How a wait between waves ended: its time passed, someone clicked Continue, or someone stopped the publish there. */
type WaitEnd = { by: 'time' | 'continue' } | { by: 'stop'; user: string };

/** Jobs waiting between two waves in this process, and the way to let each go on (or stop it there). */
export class WaveWaits {
  private waiting = new Map<number, (end: WaitEnd) => void>();

  /** Resolves after `ms`, or never by itself when `ms` is null; Continue or Stop ends the wait early either way. */
  async wait(jobId: number, ms: number | null): Promise<WaitEnd> {
    const abort = new AbortController();
    const decided = new Promise<WaitEnd>((resolve) => this.waiting.set(jobId, resolve));
    try {
      if (ms === null) return await decided;
      return await Promise.race([decided, sleep(ms, { by: 'time' } as const, { signal: abort.signal })]);
    } finally {
      abort.abort();
      this.waiting.delete(jobId);
    }
  }

  /** Ends a job's wait; false when it is not waiting (in this process). */
  end(jobId: number, end: WaitEnd): boolean {
    const go = this.waiting.get(jobId);
    if (!go) return false;
    this.waiting.delete(jobId);
    go(end);
    return true;
  }
}

export interface WaveRun {
  ctx: Ctx;
  jobId: number;
  project: ProjectFull;
  state: WavesState;
  /** Host name -> id, for the hosts of the job. */
  hostIds: Map<string, number>;
  /** Hosts that may be contacted (the others were refused and already failed). */
  plans: Map<number, HostPlan>;
  emit: EventSink;
}

type PublishTo = (hostIds: number[], sink: EventSink, revision: number | undefined) => Promise<PublishOutcome>;

/** Runs the waves in order; returns the revision published. Throws (after marking later hosts skipped) when a wave fails. */
export async function publishInWaves(core: JobCore, run: WaveRun, publishTo: PublishTo): Promise<{ revision?: number }> {
  const { state, emit } = run;
  const save = async (index: number, status: WaveStatus, message?: string) => {
    Object.assign(state.waves[index], { status, message });
    await core.svc.db.job.update({ where: { id: run.jobId }, data: { waves: JSON.stringify(state) } });
    await emit({ type: 'waves', waves: state });
  };
  let revision: number | undefined;
  for (let i = 0; i < state.waves.length; i++) {
    const wave = state.waves[i];
    const name = fill(tk('wave {{n}} of {{total}} ({{label}})'), { n: i + 1, total: state.waves.length, label: wave.label });
    await save(i, 'publishing');
    await emit({ type: 'job', status: 'running', message: fill(tk('publishing {{wave}}'), { wave: name }) });
    const ids = wave.hosts.map((h) => run.hostIds.get(h)!);
    const failed = new Set(wave.hosts.filter((h) => !run.plans.has(run.hostIds.get(h)!)));
    const published: string[] = [];
    /** Hosts of this wave the engine reported on: the others were never contacted. */
    const reached = new Set<string>();
    const skipUnreached = async (why: string) => {
      for (const host of wave.hosts.filter((h) => !reached.has(h) && !failed.has(h))) await emit({ type: 'host', host, status: 'skipped', phase: 'skipped', error: fill(tk('skipped: {{why}}'), { why }) });
    };
    if (failed.size) await skipUnreached(fill(tk('{{hosts}} of this wave cannot be published to, so the wave did not start'), { hosts: [...failed].sort().join(', ') }));
    else {
      let outcome: PublishOutcome;
      try {
        // With a gate to pass, a host is not done when its files are in place: it stays running until the gate's result.
        outcome = await publishTo(ids, (e) => {
          if (e.type !== 'host') return emit(e);
          reached.add(e.host);
          if (e.status === 'failed') failed.add(e.host);
          if (e.status !== 'succeeded') return emit(e);
          published.push(e.host);
          return emit(state.restart ? { ...e, status: 'running', phase: tk('published; waiting for the gate') } : e);
        }, revision);
      } catch (err) {
        // The publish itself stopped (SVN, packing, a before-publish hook): nothing more of this wave or later ones runs.
        await skipUnreached(tk('the publish of this wave stopped before reaching this host'));
        await stopAfter(i, new Set(), run, save);
        throw err;
      }
      if (revision === undefined) {
        // Later waves (and Continue anyway) publish exactly this revision, even when the request said HEAD.
        revision = outcome.revision;
        await core.svc.db.job.update({ where: { id: run.jobId }, data: { revision } });
      }
    }
    if (failed.size === 0 && state.restart) {
      await save(i, 'checking');
      await emit({ type: 'job', status: 'running', message: fill(tk('restarting {{process}} on {{wave}} and checking its status'), { process: state.restart, wave: name }) });
      for (const host of await passGate(core, run, published.map((h) => run.hostIds.get(h)!))) failed.add(host);
    }
    if (failed.size) {
      await stopAfter(i, failed, run, save);
      throw new FerryError('failed', tk('Stopped: {{wave}} failed on host(s) {{hosts}}. The hosts of later waves were not touched. Roll back the waves done, or continue anyway.'), { params: { wave: name, hosts: [...failed].sort().join(', ') } });
    }
    await save(i, 'done');
    if (i === state.waves.length - 1) break;
    let end: WaitEnd = { by: 'time' };
    if (state.pauseSeconds > 0) {
      const until = new Date(Date.now() + state.pauseSeconds * 1000);
      await save(i + 1, 'pausing', fill(tk('starts at {{time}} UTC, after a pause of {{seconds}} s'), { time: until.toISOString().slice(11, 19), seconds: state.pauseSeconds }));
      await emit({ type: 'job', status: 'running', message: fill(tk('pausing {{seconds}} s before wave {{n}}'), { seconds: state.pauseSeconds, n: i + 2 }) });
      end = await core.waves.wait(run.jobId, state.pauseSeconds * 1000);
    }
    if (state.manual && end.by !== 'stop') {
      await save(i + 1, 'waiting', tk('waits for someone to click Continue'));
      await core.svc.db.job.update({ where: { id: run.jobId }, data: { status: 'paused' } });
      await emit({ type: 'job', status: 'paused', message: fill(tk('wave {{n}} done; click Continue to start wave {{next}}'), { n: i + 1, next: i + 2 }) });
      end = await core.waves.wait(run.jobId, null);
      await core.svc.db.job.update({ where: { id: run.jobId }, data: { status: 'running' } });
    }
    if (end.by === 'stop') {
      const next = fill(tk('wave {{n}} of {{total}} ({{label}})'), { n: i + 2, total: state.waves.length, label: state.waves[i + 1].label });
      await skipFrom(i + 1, fill(tk('skipped: {{user}} stopped the publish before {{wave}}'), { user: end.user, wave: next }), fill(tk('{{user}} stopped the publish before it'), { user: end.user }), run);
      await core.svc.db.job.update({ where: { id: run.jobId }, data: { waves: JSON.stringify(state) } });
      await emit({ type: 'waves', waves: state });
      throw new FerryError('failed', tk('Stopped by {{user}} before {{wave}}. The hosts of later waves were not touched. Roll back the waves done, or continue anyway.'), { params: { user: end.user, wave: next } });
    }
  }
  return { revision };
}

/** The wave failed: it says why, and every host of the later waves is marked skipped, untouched. */
async function stopAfter(index: number, failed: Set<string>, run: WaveRun, save: (i: number, s: WaveStatus, m?: string) => Promise<void>) {
  const { state } = run;
  const done = state.waves.slice(0, index).flatMap((w) => w.hosts);
  const hosts = [...failed].sort().join(', ');
  const before = done.length ? done.join(', ') : tk('none');
  const wave = { n: index + 1, label: state.waves[index].label, before };
  const reason = failed.size
    ? fill(tk('skipped: wave {{n}} ({{label}}) failed on {{hosts}}; hosts done before it: {{before}}'), { ...wave, hosts })
    : fill(tk('skipped: wave {{n}} ({{label}}) failed; hosts done before it: {{before}}'), wave);
  await skipFrom(index + 1, reason, tk('an earlier wave failed'), run);
  await save(index, 'failed', failed.size ? fill(tk('failed on {{hosts}}'), { hosts }) : tk('the publish stopped (see the job\'s error)'));
}

/** Marks the waves from `first` on, and their hosts, skipped: never touched. */
async function skipFrom(first: number, hostReason: string, waveMessage: string, run: WaveRun) {
  for (let j = first; j < run.state.waves.length; j++) {
    for (const host of run.state.waves[j].hosts) await run.emit({ type: 'host', host, status: 'skipped', phase: 'skipped', error: hostReason });
    Object.assign(run.state.waves[j], { status: 'skipped', message: waveMessage });
  }
}

/**
 * The gate of one wave: restart the chosen process where it runs, then poll its status until it passes on every one
 * of those hosts or the timeout passes. Returns the hosts that failed it; each host's result goes to JobHost.gate.
 */
async function passGate(core: JobCore, run: WaveRun, hostIds: number[]): Promise<string[]> {
  const { project, state, emit } = run;
  const proc = project.processes.find((p) => p.name === state.restart);
  const nameOf = (id: number) => run.plans.get(id)!.name;
  if (!proc) {
    // Deleted since the waves were planned (a Continue anyway or a retry of an older job): nothing can be checked.
    const error = fill(tk('Published, but process {{process}} is no longer configured, so the wave cannot be checked.'), { process: state.restart ?? '' });
    for (const id of hostIds) await emit({ type: 'host', host: nameOf(id), status: 'failed', phase: 'gate', gate: fill(tk('failed: process {{process}} is no longer configured'), { process: state.restart ?? '' }), error });
    return hostIds.map(nameOf);
  }
  const runsIt = new Set(proc.groups.flatMap((g) => g.hosts.map((h) => h.id)));
  for (const id of hostIds.filter((h) => !runsIt.has(h))) {
    await emit({ type: 'host', host: nameOf(id), status: 'succeeded', phase: 'done', gate: fill(tk('not needed: {{process}} does not run on this host'), { process: proc.name }) });
  }
  const targets = hostIds.filter((h) => runsIt.has(h));
  if (targets.length === 0) return [];
  const spec = { name: proc.name, startCmd: proc.startCmd, stopCmd: proc.stopCmd, statusCmd: proc.statusCmd };
  const request = (ids: number[], action: ProcessAction, commandTimeoutMs?: number) => ({
    jobId: run.jobId, project: project.name, user: run.ctx.actor.name, concurrency: concurrencyOf(project), action, commandTimeoutMs,
    hosts: ids.map((id) => ({ ...run.plans.get(id)!, processes: [spec] })),
    hooks: { beforeRestart: hookSpecs(project, 'before-restart'), afterRestart: hookSpecs(project, 'after-restart') },
  });

  const failed: string[] = [];
  await core.engine.processAction(request(targets, 'restart'), (e) => {
    if (e.type !== 'host') return emit(e);
    if (e.status === 'failed') {
      failed.push(e.host);
      return emit({ ...e, phase: 'gate', gate: fill(tk('failed: the restart of {{process}} failed'), { process: proc.name }), error: fill(tk('Published, but the restart of {{process}} failed: {{error}}'), { process: proc.name, error: e.error ?? '' }) });
    }
    if (e.status === 'succeeded') return emit({ ...e, status: 'running', phase: fill(tk('checking the status of {{process}}'), { process: proc.name }), gate: tk('restarted; checking status') });
    return emit({ ...e, phase: fill(tk('restarting {{process}}: {{phase}}'), { process: proc.name, phase: e.phase ?? '' }), gate: tk('restarting') });
  });

  const started = Date.now();
  const deadline = started + state.statusTimeoutSeconds * 1000;
  const lastError = new Map<string, string>();
  let pending = targets.filter((id) => !failed.includes(nameOf(id)));
  while (pending.length) {
    const passed = new Set<string>();
    // A status command that hangs must not hold the wave past its timeout (a second more lets it answer at the edge).
    await core.engine.processAction(request(pending, 'status', Math.max(1000, deadline - Date.now()) + 1000), (e: JobEvent) => {
      if (e.type === 'output') return emit(e);
      if (e.type !== 'host') return;
      if (e.status === 'failed') lastError.set(e.host, e.error ?? tk('the status command failed'));
      if (e.status !== 'succeeded') return;
      passed.add(e.host);
      return emit({ ...e, status: 'succeeded', phase: 'done', gate: fill(tk('passed: {{process}} is running ({{seconds}} s after the restart)'), { process: proc.name, seconds: Math.round((Date.now() - started) / 1000) }) });
    });
    pending = pending.filter((id) => !passed.has(nameOf(id)));
    if (pending.length === 0) break;
    if (Date.now() >= deadline) {
      for (const id of pending) {
        const host = nameOf(id);
        failed.push(host);
        const why = lastError.get(host) ?? tk('the status command failed');
        await emit({
          type: 'host', host, status: 'failed', phase: 'gate',
          gate: fill(tk('failed: {{process}} not running after {{seconds}} s; last check: {{why}}'), { process: proc.name, seconds: state.statusTimeoutSeconds, why }),
          error: fill(tk('Published, but {{process}} did not pass its status check within {{seconds}} s: {{why}}'), { process: proc.name, seconds: state.statusTimeoutSeconds, why }),
        });
      }
      break;
    }
    await sleep(Math.min(WAVES.statusPollMs, Math.max(0, deadline - Date.now())));
  }
  return failed;
}

/** The waves of `job` whose hosts match `keep` (e.g. never touched), in order, under the hosts' current names. */
export async function remainingWaves(core: JobCore, job: { waves: string; hosts: { hostId: number | null; hostName: string; status: string }[] },
  keep: (status: string) => boolean): Promise<Omit<PlannedWaves, 'continuesJobId'> | null> {
  const state = parseWaves(job.waves);
  if (!state) return null;
  const idOf = new Map(job.hosts.filter((h) => h.hostId !== null && keep(h.status)).map((h) => [h.hostName, h.hostId!]));
  const current = new Map((await core.svc.db.host.findMany({ where: { id: { in: [...idOf.values()] } }, select: { id: true, name: true } })).map((h) => [h.id, h.name]));
  const waves = state.waves
    .map((w) => ({ label: w.label, hosts: w.hosts.filter((h) => idOf.has(h) && current.has(idOf.get(h)!)).map((h) => ({ id: idOf.get(h)!, name: current.get(idOf.get(h)!)! })) }))
    .filter((w) => w.hosts.length > 0);
  const { by, batchSize, restart, statusTimeoutSeconds, pauseSeconds, manual } = state;
  return { settings: { by, batchSize, restart, statusTimeoutSeconds, pauseSeconds, manual }, waves };
}

type StartPublish = (projectName: string, input: { files: string[]; exclude?: string[]; revision?: number; hosts: string[]; note: string }, waves: PlannedWaves) => Promise<{ jobId: number }>;

/**
 * Continue: a job paused between waves goes on (or a timed pause ends early); a publish in waves that stopped after a
 * failed wave ("continue anyway") gets a new publish job for the waves it did not reach, same revision and files.
 */
export async function continueWaves(core: JobCore, ctx: Ctx, jobId: number, startPublish: StartPublish): Promise<{ jobId: number }> {
  const { svc } = core;
  const job = await svc.db.job.findUnique({ where: { id: jobId }, include: { project: true, hosts: true } });
  if (!job) throw jobNotFound(jobId);
  await assertJobVisible(svc, ctx, job, 'publish.continue');
  await assertCan(svc, ctx, 'publish', job.project, 'publish.continue');
  const state = parseWaves(job.waves);
  if (job.kind !== 'publish' || !state) throw new FerryError('invalid', tk('Job #{{id}} is not a publish in waves, so there is nothing to continue.'), { params: { id: jobId } });
  if (neverRan(job.status)) throw new FerryError('invalid', tk('Job #{{id}} never ran ({{status}}), so there is nothing to continue.'), { params: { id: jobId, status: job.status.replace('_', ' ') }, keyParams: ['status'] });
  const log = (detail: string) => recordOp(svc, ctx, { action: 'publish.continue', result: 'ok', project: job.project.name, target: `job #${jobId}`, jobId, detail });

  if (isActiveStatus(job.status)) {
    const next = state.waves.findIndex((w) => w.status === 'waiting' || w.status === 'pausing');
    if (next < 0 || !core.waves.end(jobId, { by: 'continue' })) throw new FerryError('conflict', tk('Job #{{id}} is publishing a wave right now. Continue is possible while it waits between waves.'), { params: { id: jobId } });
    await log(`wave ${next + 1} (${state.waves[next].label}) started by Continue`);
    return { jobId };
  }
  if (state.continuedByJobId) throw new FerryError('conflict', tk('Job #{{id}} was already continued by job #{{next}}.'), { params: { id: jobId, next: state.continuedByJobId } });
  const rest = await remainingWaves(core, job, (status) => status === 'skipped');
  if (!rest || rest.waves.length === 0) throw new FerryError('invalid', tk('Job #{{id}} has no waves left to publish: every host was reached (use Retry for hosts that failed).'), { params: { id: jobId } });
  const hosts = rest.waves.flatMap((w) => w.hosts.map((h) => h.name));
  const started = await startPublish(job.project.name,
    { files: JSON.parse(job.files) as string[], exclude: excludeOf(job.params), revision: job.revision ?? undefined, hosts, note: `continues job #${jobId}` },
    { ...rest, continuesJobId: jobId },
  );
  state.continuedByJobId = started.jobId;
  await svc.db.job.update({ where: { id: jobId }, data: { waves: JSON.stringify(state) } });
  await log(`continue anyway: job #${started.jobId} publishes the ${rest.waves.length} wave(s) left to ${hosts.length} host(s)`);
  return started;
}

/** Stop here: a publish in waves waiting between two waves ends there; the hosts of the later waves stay untouched. */
export async function stopWaves(core: JobCore, ctx: Ctx, jobId: number): Promise<{ jobId: number }> {
  const { svc } = core;
  const job = await svc.db.job.findUnique({ where: { id: jobId }, include: { project: true } });
  if (!job) throw jobNotFound(jobId);
  await assertJobVisible(svc, ctx, job, 'publish.stop');
  await assertCan(svc, ctx, 'publish', job.project, 'publish.stop');
  const state = parseWaves(job.waves);
  if (job.kind !== 'publish' || !state) throw new FerryError('invalid', tk('Job #{{id}} is not a publish in waves, so there is nothing to stop between waves.'), { params: { id: jobId } });
  const next = state.waves.findIndex((w) => w.status === 'waiting' || w.status === 'pausing');
  if (!isActiveStatus(job.status) || next < 0 || !core.waves.end(jobId, { by: 'stop', user: ctx.actor.name })) {
    throw new FerryError('conflict', tk('Job #{{id}} is not waiting between waves. It can be stopped there only while it waits.'), { params: { id: jobId } });
  }
  await recordOp(svc, ctx, { action: 'publish.stop', result: 'ok', project: job.project.name, target: `job #${jobId}`, jobId, detail: `stopped before wave ${next + 1} (${state.waves[next].label})` });
  return { jobId };
}
