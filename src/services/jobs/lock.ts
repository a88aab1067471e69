// The publish/rollback slot of each project: at most one such job runs per project, and a second one is refused
// with 409 instead of waiting (process jobs wait in lanes.ts instead).
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Ctx, Services } from '../context.ts';
import { recordOp } from '../oplog.ts';
import { ACTIVE_JOB_STATUSES } from './status.ts';

/** A claimed slot: tell it which job holds it once the row exists, release it when the job is over (or never made). */
export interface ProjectSlot {
  holdFor(jobId: number): void;
  release(): void;
}

export class ProjectLocks {
  /** projectId -> jobId (0 while the job row is being created). */
  private held = new Map<number, number>();

  constructor(private readonly svc: Services) {}

  /** Claims the project's slot synchronously, so two requests cannot both pass the check. */
  async claim(ctx: Ctx, project: { id: number; name: string }, action: string): Promise<ProjectSlot> {
    const busy = async (job: { kind: string; id: number; userName: string } | null): Promise<never> => {
      const err = job
        ? new FerryError('conflict', tk('Project "{{project}}" is busy: {{kind}} job #{{id}} started by {{user}} is still running. Wait for it to finish, then try again.'),
          { params: { project: project.name, kind: job.kind, id: job.id, user: job.userName }, keyParams: ['kind'] })
        : new FerryError('conflict', tk('Project "{{project}}" is busy: another publish is still running. Wait for it to finish, then try again.'), { params: { project: project.name } });
      await recordOp(this.svc, ctx, { action, result: 'denied', project: project.name, detail: err.message });
      throw err;
    };
    const held = this.held.get(project.id);
    if (held !== undefined) await busy(held ? await this.svc.db.job.findUnique({ where: { id: held } }) : null);
    this.held.set(project.id, 0);
    const slot: ProjectSlot = {
      holdFor: (jobId) => void this.held.set(project.id, jobId),
      release: () => void this.held.delete(project.id),
    };
    // Also respect a job row left active by another process sharing the database.
    const active = await this.svc.db.job.findFirst({ where: { projectId: project.id, kind: { in: ['publish', 'rollback'] }, status: { in: [...ACTIVE_JOB_STATUSES] } } });
    if (active) {
      slot.release();
      await busy(active);
    }
    return slot;
  }
}
