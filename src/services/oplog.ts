// The operation log: one row per action (login, config change, import, job, refusal). Never secret values.
import type { Ctx, Services } from './context.ts';

export type OpResult = 'ok' | 'denied' | 'failed';

export interface OpEntry {
  action: string;
  result: OpResult;
  project?: string;
  target?: string;
  detail?: string;
  jobId?: number;
}

export async function recordOp(svc: Pick<Services, 'db'>, ctx: Ctx | { actor: null; ip: string; userName?: string }, entry: OpEntry): Promise<void> {
  const actor = ctx.actor;
  await svc.db.opLog.create({
    data: {
      userId: actor?.id ?? null,
      userName: actor?.name ?? ('userName' in ctx ? (ctx.userName ?? '') : ''),
      ip: ctx.ip,
      action: entry.action,
      result: entry.result,
      project: entry.project ?? '',
      target: entry.target ?? '',
      detail: (entry.detail ?? '').slice(0, 4000),
      jobId: entry.jobId ?? null,
    },
  });
}
