// Message keys for text the engine records in English in a job (host errors, gate results, phases, wave words) and
// that the job page shows translated (src/web/recorded.ts, public/js/lib/i18n.js tr()). The code that writes these
// texts (src/deploy/release/**, the publish and preview services) keeps writing plain English; listing the English
// wording here with tk() gives the key check and the translators the same sentences. Keep them word for word.
import { tk } from '../../lib/messages.ts';

/** Host and wave words shown on the job page. */
export const RECORDED_WORDS = [
  tk('not run'), tk('published; waiting for the gate'),
  // The kind of a job not listed in DATA_WORDS (src/web/i18n.ts).
  tk('process'),
  // WAVE_STATUS_VIEW (waves-plan.ts): each wave's status in words.
  tk('not started'), tk('publishing'), tk('restarting and checking status'), tk('pausing'), tk('waiting for Continue'),
];

/** Recurring host errors of a publish (src/deploy/release/failures.ts and its steps, src/deploy/runner.ts). */
export const RECORDED_HOST_ERRORS = [
  tk('the uploaded package'),
  tk('the package copied by {{relay}}'),
  tk('{{what}} is damaged (sha256 {{actual}}…, expected {{expected}}…); nothing was changed'),
  tk('copying the package from relay {{relay}} to {{host}} failed: {{reason}}'),
  tk('{{step}} failed on {{host}}: {{reason}}'),
  tk('exit code {{code}}'),
  tk('tar exited with code {{code}}'),
  tk('No space left on device ({{reason}})'),
  tk('extracting the package failed: {{reason}} — the previous files were restored from the snapshot'),
  tk('extracting the package failed: {{reason}} — restoring the snapshot also failed: restoring the snapshot of job {{jobId}} failed on {{host}}: {{why}}'),
  tk('the script ended with exit code {{code}}'),
  tk('the host key {{host}} presented does not match the key pinned in Ferry (ssh on the relay: Host key verification failed)'),
  // The step names of RECEIVE_FAILURES and SNAPSHOT_FAILURES ("{what}" filled in); "checking" and "moving
  // {what} into place" were verify.ts's, kept for jobs recorded before.
  tk('receiving the package'), tk('writing the package to .ferry/incoming'), tk('creating the .ferry directories'),
  tk('looking at the files to be replaced'), tk('writing the snapshot'), tk('writing the list of published files'),
  tk('saving the snapshot'), tk('waiting for Ferry to record the snapshot'), tk('checking {{what}}'), tk('moving {{what}} into place'),
  // src/deploy/runner.ts: suffixes of a failed host.
  tk('{{error}} The previous files were restored from the snapshot.'),
  tk('{{error}} (already undone here before that: {{jobs}})'),
  // Relays (src/deploy/transport).
  tk('cannot reach relay {{relay}}: {{reason}}'),
  tk('pinning the host key of {{host}} through relay {{relay}} failed: {{reason}}'),
  tk('{{host}} presented no host key to pin'),
];
