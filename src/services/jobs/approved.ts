// What runs once a request is approved: the release planned again under the project's slot, as the approver's
// decision (the requester stays the author). Hosts deleted or taken out of the project since the request are skipped.
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Ctx } from '../context.ts';
import type { RequestRow } from './approval.ts';
import type { JobCore } from './launch.ts';
import { runPublish } from './publish.ts';
import { excludeOf, overwriteDriftOf } from './request.ts';
import { runApprovedRollback } from './rollback.ts';
import { projectFor } from './store.ts';
import { remainingWaves } from './waves.ts';

export async function runApproved(core: JobCore, ctx: Ctx, job: RequestRow, markRunning: () => Promise<void>): Promise<void> {
  const project = await projectFor(core.svc, ctx, job.project.name, `${job.kind}.approve`);
  const slot = await core.locks.claim(ctx, project, `${job.kind}.approve`);
  if (job.kind === 'rollback') return runApprovedRollback(core, ctx, job, project, slot, markRunning);
  // Hosts deleted or taken out of the project's groups since the request are not published to.
  const inProject = new Set(project.groups.flatMap((g) => g.hosts.map((h) => h.id)));
  const hosts = job.hosts.filter((h) => h.hostId !== null && inProject.has(h.hostId)).map((h) => ({ id: h.hostId!, name: h.hostName }));
  const gone = job.hosts.filter((h) => h.hostId === null || !inProject.has(h.hostId));
  try {
    if (hosts.length === 0) throw new FerryError('invalid', tk('None of the hosts of job #{{id}} is in project "{{project}}" any more; reject the request and ask for a new one.'), { params: { id: job.id, project: project.name } });
    await markRunning();
    if (gone.length) {
      await core.svc.db.jobHost.updateMany({ where: { id: { in: gone.map((h) => h.id) } }, data: { status: 'skipped', phase: 'not run', error: tk('not run: the host left the project after the request was made') } });
    }
  } catch (err) {
    slot.release();
    throw err;
  }
  // A request in waves keeps its plan (Job.waves); hosts gone from the project drop out of their wave.
  const planned = await remainingWaves(core, { waves: job.waves, hosts: job.hosts.filter((h) => h.hostId !== null && inProject.has(h.hostId)) }, (status) => status === 'queued');
  const stored = planned && JSON.parse(job.waves) as { continuesJobId?: number };
  const waves = planned ? { ...planned, ...(stored?.continuesJobId ? { continuesJobId: stored.continuesJobId } : {}) } : null;
  runPublish(core, ctx, job, project, { files: JSON.parse(job.files) as string[], exclude: excludeOf(job.params), revision: job.revision ?? undefined, note: job.note, hosts, waves, author: job.userName, overwriteDrift: overwriteDriftOf(job.params) }, slot);
}
