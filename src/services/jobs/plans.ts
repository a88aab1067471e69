// What the engine is told for each host (where and how to reach it), each hook stage and how many hosts at once.
// Stored values are checked again here, since an old install or a direct edit may hold what today's forms refuse.
import type { HostPlan } from '../../deploy/runner-types.ts';
import { RANGES, storedDeployDirProblem } from '../config/rules.ts';
import type { Ctx, Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { resolveHostTargets } from '../targets.ts';
import type { JobRecorder } from './recorder.ts';
import type { ProjectFull } from './store.ts';

/** A stored concurrency is used only within today's range (an old install or a direct edit may hold more). */
export const concurrencyOf = (project: { concurrency: number }) => Math.min(Math.max(Math.trunc(project.concurrency) || 1, RANGES.concurrency.min), RANGES.concurrency.max);

export function hookSpecs(project: ProjectFull, stage: string) {
  return project.hooks.filter((h) => h.stage === stage).map((h) => ({ name: h.name, script: h.script, timeoutMs: h.timeoutSec * 1000 }));
}

/**
 * Per host: where and how to reach it. A host whose stored deploy directory today's forms refuse ("/", "/srv/../etc")
 * fails with the reason and is never contacted; the others go ahead. Refused hosts are absent from the returned map.
 */
export async function hostPlans(svc: Services, run: { ctx: Ctx; jobId: number; kind: string; emit: JobRecorder['emit'] },
  project: { name: string; deployDir: string }, ids: number[]): Promise<Map<number, HostPlan>> {
  const targets = await resolveHostTargets(svc, ids);
  const rows = await svc.db.host.findMany({ where: { id: { in: ids } }, select: { id: true, deployDir: true, relayMode: true } });
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
      await recordOp(svc, run.ctx, { action: `${run.kind}.host-refused`, result: 'failed', project: project.name, target: name, jobId: run.jobId, detail: error });
      continue;
    }
    plans.set(id, { name, target: targets.get(id)!, deployDir, relayMode: relayModeOf(row.relayMode) });
  }
  return plans;
}
