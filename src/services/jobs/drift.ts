// Drift check: a job (kind "drift") that asks each chosen host, in one command, for the sha256 and size of every file
// Ferry recorded putting there, and lists the files that differ (edited or deleted by hand). Findings are kept per
// host in JobHost.drift; the dashboard shows the newest check's count. Nothing is changed on any host.
// Permission: "publish" or "process" on the project (both already reach the hosts; neither changes anything here).
import type { Ctx, Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { assertCan, can } from '../permissions.ts';
import { recordedFiles } from './host-files.ts';
import { launch, type JobCore } from './launch.ts';
import { concurrencyOf, hostPlans } from './plans.ts';
import { selectHosts, stringList } from './request.ts';
import { createJob, projectFor } from './store.ts';
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';

export const DRIFT_TEXT = {
  noEngine: tk('Drift checks are not available on this Ferry server.'),
  // The rest are lines of the job's output and the operation log: they stay in English.
  nothingRecorded: 'no file recorded for this host yet (publish to it first)',
  clean: (n: number) => `all ${n} recorded file(s) are as Ferry put them`,
  drifted: (n: number, of: number) => `${n} of ${of} recorded file(s) differ from what Ferry put there`,
  deleted: 'deleted on the host',
  started: (hosts: number) => `checks ${hosts} host(s) for files edited by hand`,
};

/** One finding on a host, as stored in JobHost.drift (JSON array). */
export interface DriftFinding {
  path: string;
  expected: { sha256: string; size: number; jobId: number; revision: number | null };
  /** What is there now; null when it is missing (or not a plain file Ferry may read). */
  actual: { sha256: string; size: number } | null;
}

export async function startDriftCheck(core: JobCore, ctx: Ctx, projectName: string, input: { hosts?: unknown; groups?: unknown }): Promise<{ jobId: number }> {
  const { svc, engine } = core;
  const project = await projectFor(svc, ctx, projectName, 'drift');
  if (!can(ctx.actor, 'process', project.id)) await assertCan(svc, ctx, 'publish', project, 'drift');
  if (!engine.checkHosts) throw new FerryError('unavailable', DRIFT_TEXT.noEngine);
  const named = selectHosts(project, stringList(input.hosts, 'hosts'), stringList(input.groups, 'groups'));
  const hosts = named.length ? named : selectHosts(project, [], project.groups.map((g) => g.name));
  const job = await createJob(svc, ctx, project, { kind: 'drift', params: { hosts: hosts.map((h) => h.name) } }, hosts);
  await recordOp(svc, ctx, { action: 'drift.start', result: 'ok', project: project.name, target: `job #${job.id}`, jobId: job.id, detail: DRIFT_TEXT.started(hosts.length) });
  launch(core, ctx, job, project, null, async (emit) => {
    const plans = await hostPlans(svc, { ctx, jobId: job.id, kind: 'drift', emit }, project, hosts.map((h) => h.id));
    const usable = hosts.filter((h) => plans.has(h.id));
    const recorded = await recordedFiles(svc, project.id, usable.map((h) => h.id));
    const paths = [...new Set([...recorded.values()].flatMap((m) => [...m.keys()]))];
    for (const h of usable) await emit({ type: 'host', host: h.name, status: 'running', phase: 'checking' });
    const checks = await engine.checkHosts!(usable.map((h) => plans.get(h.id)!), paths, concurrencyOf(project));
    for (const [i, h] of usable.entries()) {
      const check = checks[i];
      if (!check.ok) {
        await emit({ type: 'output', host: h.name, text: `error: ${check.error}\n` });
        await emit({ type: 'host', host: h.name, status: 'failed', phase: 'failed', error: check.error });
        continue;
      }
      const records = recorded.get(h.id) ?? new Map();
      const findings: DriftFinding[] = [];
      for (const [path, r] of records) {
        const there = check.files.get(path);
        const actual = there?.kind === 'file' ? { sha256: there.sha256, size: there.size } : null;
        if (actual && actual.sha256 === r.sha256 && actual.size === r.size) continue;
        findings.push({ path, expected: { sha256: r.sha256, size: r.size, jobId: r.jobId, revision: r.revision }, actual });
      }
      await saveFindings(svc, job.id, h.name, findings);
      const summary = records.size === 0 ? DRIFT_TEXT.nothingRecorded : findings.length ? DRIFT_TEXT.drifted(findings.length, records.size) : DRIFT_TEXT.clean(records.size);
      const lines = findings.map((f) => `  ${f.path}: ${f.actual ? `${f.expected.size} -> ${f.actual.size} bytes, sha256 ${f.actual.sha256.slice(0, 12)}…` : DRIFT_TEXT.deleted}\n`).join('');
      await emit({ type: 'output', host: h.name, text: `${summary}\n${lines}` });
      await emit({ type: 'host', host: h.name, status: 'succeeded', phase: findings.length ? 'drifted' : 'clean' });
    }
  });
  return { jobId: job.id };
}

async function saveFindings(svc: Services, jobId: number, hostName: string, findings: DriftFinding[]): Promise<void> {
  await svc.db.jobHost.update({ where: { jobId_hostName: { jobId, hostName } }, data: { drift: JSON.stringify(findings) } });
}

/** Per project, the newest finished drift check: its job id and the hosts where files differed. */
export async function latestDrift(svc: Pick<Services, 'db'>, projectIds: number[]): Promise<Map<number, { jobId: number; hosts: string[] }>> {
  const jobs = await svc.db.job.findMany({
    where: { kind: 'drift', projectId: { in: projectIds }, status: { in: ['succeeded', 'partial', 'failed'] } },
    orderBy: { id: 'desc' }, select: { id: true, projectId: true, hosts: { select: { hostName: true, drift: true } } },
  });
  const map = new Map<number, { jobId: number; hosts: string[] }>();
  for (const job of jobs) {
    if (map.has(job.projectId)) continue;
    map.set(job.projectId, { jobId: job.id, hosts: job.hosts.filter((h) => h.drift !== '' && h.drift !== '[]').map((h) => h.hostName) });
  }
  return map;
}
