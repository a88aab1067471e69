// The operation log: one row per action (login, config change, import, job, refusal). Never secret values.
// Every field is cut to OPLOG_FIELD_CHARS, so nothing a client sends (a 5 MB user name) can grow the log without bound.
import { OPLOG_FIELD_CHARS } from '../config.ts';
import type { Ctx, Services } from './context.ts';

type OpResult = 'ok' | 'denied' | 'failed';

interface OpEntry {
  action: string;
  result: OpResult;
  project?: string;
  target?: string;
  detail?: string;
  jobId?: number;
}

/** Cuts a value to at most `max` UTF-16 units, marking the cut with "…" and never splitting a surrogate pair. */
function clip(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = max - 1;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${value.slice(0, end)}…`;
}

export async function recordOp(svc: Pick<Services, 'db'>, ctx: Ctx | { actor: null; ip: string; userName?: string }, entry: OpEntry): Promise<void> {
  const actor = ctx.actor;
  const max = OPLOG_FIELD_CHARS;
  await svc.db.opLog.create({
    data: {
      userId: actor?.id ?? null,
      userName: clip(actor?.name ?? ('userName' in ctx ? (ctx.userName ?? '') : ''), max.userName),
      ip: clip(ctx.ip, max.ip),
      action: clip(entry.action, max.action),
      result: entry.result,
      project: clip(entry.project ?? '', max.project),
      target: clip(entry.target ?? '', max.target),
      detail: clip(entry.detail ?? '', max.detail),
      jobId: entry.jobId ?? null,
    },
  });
}
