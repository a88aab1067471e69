// Rollback on one host as one remote command (program.ts): check every snapshot and link first, then restore the
// jobs newest first, reporting each as it is done.
import { refusalOf, reasonFrom } from '../remote.ts';
import type { RemoteSession } from '../types.ts';
import { programCommand, rollbackProgram } from './program.ts';
import { EXIT, MARK, MarkReader, markValue, hasMark, StageDeadline } from './protocol.ts';
import { CommandTimeoutError } from '../transport/errors.ts';
import { messageOf, requireAbsolute } from './publish.ts';
import { MAINTENANCE_COMMAND_TIMEOUT_MS } from '../../config.ts';

export const ROLLBACK_PHASES = ['checking', 'restoring', 'done'] as const;
export type RollbackPhase = (typeof ROLLBACK_PHASES)[number];

/** Limit for a rollback command: restoring large snapshots takes as long as extracting them. */
const DEFAULT_ROLLBACK_TIMEOUT_MS = 60 * 60_000;

export interface RollbackOptions {
  session: RemoteSession;
  deployDir: string;
  /** Jobs to undo; they are undone newest (highest id) first whatever the order given. */
  jobIds: readonly number[];
  onPhase?: (phase: RollbackPhase) => void;
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  timeoutMs?: number;
}

export interface RollbackResult {
  ok: boolean;
  restoredJobIds: number[];
  error?: string;
}

/** Undoes publishes on one host from their snapshots. Checks every snapshot exists before changing anything. Never rejects. */
export async function rollbackHost(opts: RollbackOptions): Promise<RollbackResult> {
  const { session, deployDir } = opts;
  const jobIds = [...new Set(opts.jobIds)].sort((a, b) => b - a);
  const restoredJobIds: number[] = [];
  let restoring = false;
  try {
    requireAbsolute(deployDir);
    if (jobIds.length === 0) {
      opts.onPhase?.('done');
      return { ok: true, restoredJobIds };
    }
    opts.onPhase?.('checking');
    // The check is quick; a host that hangs there is found out at the maintenance timeout, not after an hour.
    const deadline = new StageDeadline();
    deadline.arm(MAINTENANCE_COMMAND_TIMEOUT_MS, () => new CommandTimeoutError(session.hostName, MAINTENANCE_COMMAND_TIMEOUT_MS, '', ''));
    const marks = new MarkReader((mark) => {
      if (mark === 'phase restoring') {
        deadline.disarm();
        restoring = true;
        opts.onPhase?.('restoring');
      } else if (mark.startsWith('restored ')) {
        restoredJobIds.push(Number(mark.slice('restored '.length)));
      }
    });
    const onOutput = opts.onOutput;
    const result = await session.exec(programCommand(rollbackProgram(deployDir, jobIds)), {
      timeoutMs: opts.timeoutMs ?? DEFAULT_ROLLBACK_TIMEOUT_MS,
      signal: deadline.signal,
      onOutput: (chunk, stream) => {
        if (stream === 'stdout') marks.push(chunk);
        else onOutput?.(chunk, stream);
      },
    }).finally(() => deadline.disarm());
    if (result.code === 0) {
      opts.onPhase?.('done');
      return { ok: true, restoredJobIds };
    }
    return { ok: false, restoredJobIds, error: rollbackFailure(result, session.hostName, jobIds, restoredJobIds, restoring) };
  } catch (err) {
    return { ok: false, restoredJobIds, error: messageOf(err) };
  }
}

function rollbackFailure(result: { code: number; stdout: string; stderr: string }, host: string, jobIds: number[], restored: number[], restoring: boolean): string {
  if (result.code === EXIT.snapshotsMissing) {
    const missing = (markValue(result.stdout, 'missing') ?? '').trim().split(/\s+/).filter(Boolean);
    return `${missing.map((id) => `snapshot of job ${id} is missing on this host`).join('; ')} — nothing was changed`;
  }
  const failedJob = jobIds.find((id) => !restored.includes(id));
  const outside = refusalOf(result, host);
  if (outside) return restoring ? outside.replace('nothing was changed on this host', `the snapshot of job ${failedJob} was not restored`) : outside;
  if (result.code === EXIT.noDeployDir) return `the deploy directory does not exist on ${host} — nothing was changed`;
  const reason = reasonFrom(result.stderr) || reasonFrom(result.stdout.split('\n').filter((l) => !l.startsWith(MARK)).join('\n')) || `exit code ${result.code}`;
  if (!restoring && !hasMark(result.stdout, 'phase restoring')) return `checking snapshots failed on ${host}: ${reason}`;
  return `restoring the snapshot of job ${failedJob} failed on ${host}: ${reason}`;
}

