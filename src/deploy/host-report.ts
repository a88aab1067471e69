// What a publish on one host tells the job: its final state and the lines of its output that say why.
import { SKIPPED_TEXT } from './release/drift.ts';
import type { PublishResult } from './release.ts';
import type { EventSink } from './types.ts';

/** Emits the host's final event for `result`; answers the hand edits it found, if any. */
export function reportPublishResult(emit: EventSink, host: string, jobId: number, revision: number, result: PublishResult): { host: string; paths: string[]; overwritten: boolean } | null {
  const stamp = () => `[${new Date().toISOString().slice(11, 19)}] `;
  for (const w of result.warnings) emit({ type: 'output', host, text: `warning: ${w}\n` });
  if (result.ok && result.unchanged) {
    emit({ type: 'output', host, text: `${SKIPPED_TEXT}\n` });
    emit({ type: 'host', host, status: 'succeeded', phase: 'unchanged' });
  } else if (result.ok) {
    emit({ type: 'output', host, text: `${stamp()}done: r${revision} in place, snapshot of the overwritten files kept as job ${jobId}\n` });
    emit({ type: 'host', host, status: 'succeeded', phase: 'done', snapshotTaken: result.snapshotTaken });
  } else {
    const restored = result.restored ? ' The previous files were restored from the snapshot.' : '';
    emit({ type: 'output', host, text: `error: ${result.error}${restored}\n` });
    // Restored files are as they were before this job, so a later rollback has nothing of it to undo here.
    emit({ type: 'host', host, status: 'failed', phase: result.phase, error: `${result.error}${restored}`, snapshotTaken: result.restored ? false : result.snapshotTaken, exitCode: result.exitCode });
  }
  return result.drifted?.length ? { host, paths: result.drifted, overwritten: result.ok } : null;
}
