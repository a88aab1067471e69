// What a failed run of the publish program on one host means, in the operator's words: which step failed and why,
// whether the snapshot put the previous files back, and ssh's own complaint when a relay could not reach the host.
import { outsideLinkError, reasonFrom, refusalOf, withoutOutsideRecords } from '../remote.ts';
import type { ExecResult } from '../types.ts';
import { EXIT, hasMark, MARK, markValue } from './protocol.ts';
import type { OutputListener, PublishResult } from './publish.ts';
import { SNAPSHOT_DROPPED } from './steps/extract.ts';
import { RECEIVE_FAILURES } from './steps/receive.ts';
import { SNAPSHOT_FAILURES } from './steps/snapshot.ts';

export interface FailureContext {
  hostName: string;
  jobId: number;
  relay?: string;
  expectedSha256: string;
  onOutput?: OutputListener;
  failed: (error: string, extra?: Partial<PublishResult>) => PublishResult;
  dropSnapshot: () => void;
}

/** What a non-zero exit of the publish program means, in the operator's words. */
export function failedResult(result: ExecResult, ctx: FailureContext): PublishResult {
  const { hostName, failed } = ctx;
  const what = ctx.relay ? `the package copied by ${ctx.relay}` : 'the uploaded package';
  const outside = refusalOf(result, hostName);
  if (outside) {
    if (hasMark(result.stdout, SNAPSHOT_DROPPED)) ctx.dropSnapshot();
    return failed(outside);
  }
  if (result.code === EXIT.damaged) {
    const actual = markValue(result.stdout, 'sha256') ?? '';
    return failed(`${what} is damaged (sha256 ${actual.slice(0, 12)}…, expected ${ctx.expectedSha256.slice(0, 12)}…); nothing was changed`);
  }
  if (result.code === EXIT.extractFailed && markValue(result.stdout, 'extract-failed') !== undefined) return extractionFailure(result, ctx);
  if (ctx.relay && markValue(result.stdout, 'relay-exit') !== undefined && !hasMark(result.stdout, 'phase receiving') && !hasMark(result.stdout, 'phase checking')) {
    // The relay's ssh never reached the program: it could not connect, log in or trust the host.
    return failed(`copying the package from relay ${ctx.relay} to ${hostName} failed: ${sshFailureReason(result.stderr, hostName) || `exit code ${result.code}`}`);
  }
  const step = (RECEIVE_FAILURES[result.code] ?? SNAPSHOT_FAILURES[result.code] ?? 'publishing').replace('{what}', what);
  const reason = reasonFrom(result.stderr) || `exit code ${result.code}`;
  return failed(`${step} failed on ${hostName}: ${reason}`);
}

function extractionFailure(result: ExecResult, ctx: FailureContext): PublishResult {
  const { stdout } = result;
  const tarCode = markValue(stdout, 'extract-failed') ?? '';
  let reason = reasonFrom(result.stderr) || `tar exited with code ${tarCode}`;
  const available = Number(markValue(stdout, 'df')?.trim().split(/\s+/)[3]);
  if (/Wrote only \d+ of \d+ bytes/.test(reason) && Number.isFinite(available) && available < 64) reason = `No space left on device (${reason})`;

  const restoringAt = stdout.indexOf(`${MARK}restoring\n`);
  const statusAt = stdout.lastIndexOf(`\n${MARK}restore-status `);
  const restoreOutput = restoringAt >= 0 && statusAt >= restoringAt ? stdout.slice(restoringAt + `${MARK}restoring\n`.length, statusAt) : '';
  const restoreText = withoutOutsideRecords(restoreOutput);
  if (restoreText.trim() !== '') ctx.onOutput?.(restoreText.endsWith('\n') ? restoreText : `${restoreText}\n`, 'stderr');
  const restoreCode = statusAt >= 0 ? Number(stdout.slice(statusAt + `\n${MARK}restore-status `.length).trim().split('\n')[0]) : NaN;
  if (restoreCode === 0) {
    return ctx.failed(`extracting the package failed: ${reason} — the previous files were restored from the snapshot`, { restored: true });
  }
  const restoreReason = outsideLinkError(restoreOutput, ctx.hostName)?.replace(/ — nothing was changed on this host$/, '') || reasonFrom(restoreText) || (Number.isFinite(restoreCode) ? `exit code ${restoreCode}` : `the script ended with exit code ${result.code}`);
  return ctx.failed(`extracting the package failed: ${reason} — restoring the snapshot also failed: restoring the snapshot of job ${ctx.jobId} failed on ${ctx.hostName}: ${restoreReason}`);
}

/** ssh's complaint in one line: its banners dropped, a host key mismatch said plainly. */
function sshFailureReason(stderr: string, host: string): string {
  if (/Host key verification failed/.test(stderr)) {
    return `the host key ${host} presented does not match the key pinned in Ferry (ssh on the relay: Host key verification failed)`;
  }
  const lines = stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('@'));
  return reasonFrom(lines.join('\n'), 300);
}

