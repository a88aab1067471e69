// The "Publish in waves" part of the publish form (views/pages/projects/publish.ejs): shows its options when switched
// on, and turns them into the `waves` of the publish request, with a sentence for the confirmation dialog.

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
      if (groups.length === 0) return { problem: 'Publishing in waves by group needs at least one whole group: tick the groups in "3. Targets".' };
      parts.push('One wave per group: ' + groups.join(', then ') + '.');
    } else {
      const size = Number(value('waves-batch-size'));
      if (!Number.isInteger(size) || size < 1) return { problem: 'The batch size must be a whole number of hosts, at least 1.' };
      waves.batchSize = size;
      parts.push('Batches of ' + size + ' host(s).');
    }
    const restart = value('waves-restart');
    if (restart) {
      waves.restart = restart;
      waves.statusTimeoutSeconds = Number(value('waves-timeout'));
      parts.push('After each wave: restart ' + restart + ' and wait up to ' + waves.statusTimeoutSeconds + ' s for its status check.');
    }
    const pause = Number(value('waves-pause') || 0);
    if (pause) {
      waves.pauseSeconds = pause;
      parts.push('Pause ' + pause + ' s between waves.');
    }
    if (document.getElementById('waves-manual').checked) {
      waves.manual = true;
      parts.push('Wait for Continue before each next wave.');
    }
    return { waves, summary: parts.join(' ') };
  };
}
