// The "Publish in waves" part of the publish form (views/pages/projects/publish.ejs): shows its options when switched
// on, and turns them into the `waves` of the publish request, with a sentence for the confirmation dialog.
import { t } from './i18n.js';

/** Wires the switch; returns read(groups) -> { waves, summary } | { problem } | null (not in waves). */
export function wavesForm() {
  const on = document.getElementById('waves-on');
  if (!on) return () => null;
  const options = document.getElementById('waves-options');
  const value = (id) => document.getElementById(id).value.trim();
  on.addEventListener('change', () => options.classList.toggle('d-none', !on.checked));

  return function read(groups) {
    if (!on.checked) return null;
    const by = document.getElementById('waves-by-batch').checked ? 'batch' : 'group';
    const waves = { by };
    const parts = [];
    if (by === 'group') {
      if (groups.length === 0) return { problem: t('Publishing in waves by group needs at least one whole group: tick the groups in "3. Targets".') };
      parts.push(t('One wave per group: {{groups}}.', { groups: groups.join(t(', then ')) }));
    } else {
      const size = Number(value('waves-batch-size'));
      if (!Number.isInteger(size) || size < 1) return { problem: t('The batch size must be a whole number of hosts, at least 1.') };
      waves.batchSize = size;
      parts.push(t('Batches of {{size}} host(s).', { size }));
    }
    const restart = value('waves-restart');
    if (restart) {
      waves.restart = restart;
      waves.statusTimeoutSeconds = Number(value('waves-timeout'));
      parts.push(t('After each wave: restart {{process}} and wait up to {{seconds}} s for its status check.', { process: restart, seconds: waves.statusTimeoutSeconds }));
    }
    const pause = Number(value('waves-pause') || 0);
    if (pause) {
      waves.pauseSeconds = pause;
      parts.push(t('Pause {{seconds}} s between waves.', { seconds: pause }));
    }
    if (document.getElementById('waves-manual').checked) {
      waves.manual = true;
      parts.push(t('Wait for Continue before each next wave.'));
    }
    return { waves, summary: parts.join(' ') };
  };
}
