// Process control (start, stop, restart, status) on the hosts that run the chosen processes, optionally rolling in
// batches. Process jobs of a project wait their turn in a lane instead of being refused, and are re-checked when it comes.
import type { ProcessAction } from '../../deploy/runner-types.ts';
import { badRequest, FerryError } from '../../lib/errors.ts';
import { fill, tk } from '../../lib/messages.ts';
import type { Ctx, Permission, Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { assertCan, can } from '../permissions.ts';
import { loadActor } from '../users.ts';
import { abandon, launch, type JobCore } from './launch.ts';
import { concurrencyOf, hookSpecs, hostPlans } from './plans.ts';
import { selectHosts, stringList } from './request.ts';
import { batchSizeOf, rollingProcessAction } from './rolling.ts';
import { createJob, projectFor } from './store.ts';

const PROCESS_ACTIONS: ProcessAction[] = ['start', 'stop', 'restart', 'status'];

export interface ProcessInput { action: unknown; processes?: unknown; hosts?: unknown; groups?: unknown; batchSize?: unknown; batchPercent?: unknown }

export async function startProcessAction(core: JobCore, ctx: Ctx, projectName: string, input: ProcessInput): Promise<{ jobId: number }> {
  const { svc } = core;
  const project = await projectFor(svc, ctx, projectName, 'process');
  await assertCan(svc, ctx, 'process', project, 'process');
  const action = input.action as ProcessAction;
  if (!PROCESS_ACTIONS.includes(action)) throw new FerryError('invalid', tk('The action must be one of {{actions}}.'), { params: { actions: PROCESS_ACTIONS.join(', ') }, fields: { action: tk('unknown action') } });
  const names = stringList(input.processes, 'processes');
  for (const n of names) if (!project.processes.some((p) => p.name === n)) throw new FerryError('invalid', tk('Project "{{project}}" has no process "{{process}}".'), { params: { project: project.name, process: n }, fields: { processes: fill(tk('unknown process "{{process}}"'), { process: n }) } });
  const processes = names.length ? project.processes.filter((p) => names.includes(p.name)) : project.processes;
  if (processes.length === 0) throw new FerryError('invalid', tk('Project "{{project}}" has no processes configured.'), { params: { project: project.name } });
  const hostNames = stringList(input.hosts, 'hosts');
  const groupNames = stringList(input.groups, 'groups');
  const limit = hostNames.length || groupNames.length ? new Set(selectHosts(project, hostNames, groupNames).map((h) => h.id)) : null;

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
  const lane = core.processLanes.admit(project.id);
  if (!lane) {
    const msg = tk('Project "{{project}}" already has {{n}} process jobs running or waiting. Wait for some of them to finish, then try again.');
    const params = { project: project.name, n: core.processLanes.admitted(project.id) };
    await recordOp(svc, ctx, { action: `process.${action}`, result: 'denied', project: project.name, detail: fill(msg, params) });
    throw new FerryError('busy', msg, { params });
  }
  let job;
  try {
    job = await createJob(svc, ctx, project, { kind: 'process', queued: true, params: { action, processes: processes.map((p) => p.name), ...(batchSize ? { batchSize } : {}) } }, items.map((i) => i.host));
    await recordOp(svc, ctx, { action: `process.${action}`, result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: `${processes.map((p) => p.name).join(', ')} on ${items.length} host(s)${batchSize ? ` in batches of ${batchSize}` : ''}` });
  } catch (err) {
    lane.leave();
    if (job) await abandon(svc, job.id, err);
    throw err;
  }
  launch(core, ctx, job, project, null, async (emit) => {
    const plans = await hostPlans(svc, { ctx, jobId: job.id, kind: 'process', emit }, project, items.map((i) => i.host.id));
    const usable = items.filter((i) => plans.has(i.host.id));
    if (usable.length === 0) return;
    const request = (hosts: typeof items, act: ProcessAction) => ({
      jobId: job.id, project: project.name, user: ctx.actor.name, concurrency: concurrencyOf(project), action: act,
      hosts: hosts.map((i) => ({ ...plans.get(i.host.id)!, processes: i.processes.map((p) => ({ name: p.name, startCmd: p.startCmd, stopCmd: p.stopCmd, statusCmd: p.statusCmd })) })),
      hooks: { beforeRestart: hookSpecs(project, 'before-restart'), afterRestart: hookSpecs(project, 'after-restart') },
    });
    if (!batchSize) return void (await core.engine.processAction(request(usable, action), emit));
    await rollingProcessAction(usable, batchSize, action, emit, (hosts, act, sink) => core.engine.processAction(request(hosts, act), sink));
  }, lane, () => assertStillAllowed(svc, ctx, project, 'process', `process.${action}`, job.id));
  return { jobId: job.id };
}

/**
 * For a job that waited its turn: the user must still exist, be enabled and hold the permission now. If not, the
 * refusal is logged and the job ends failed without contacting any host.
 */
async function assertStillAllowed(svc: Services, ctx: Ctx, project: { id: number; name: string }, permission: Permission, action: string, jobId: number): Promise<void> {
  if (ctx.actor.id === null) return; // the CLI acts as the operator on the server itself
  const now = await loadActor(svc, ctx.actor.id);
  if (now && can(now, permission, project.id)) return;
  const msg = tk('permission withdrawn while queued');
  await recordOp(svc, ctx, { action, result: 'denied', project: project.name, target: `job #${jobId}`, jobId, detail: `${msg}: ${now ? `missing "${permission}" permission` : 'the user was disabled or deleted'}` });
  throw new FerryError('refused', msg);
}
