// Processes page: start / stop / restart a process on a host, a group or all its hosts, and "Refresh status"
// (one status job per process, so each host's cell is that process's own exit code). Progress shows inline.
import { badgeClass, el, fetchJson, showAlert, t } from './lib/ui.js';
import { tr as recorded } from './lib/i18n.js';
import { createProgress, trackJob } from './lib/job-progress.js';

const page = document.getElementById('processes-page');
if (page) setUpProcessesPage(page);

function setUpProcessesPage(page) {
  const api = '/api/projects/' + encodeURIComponent(page.getAttribute('data-project')) + '/processes';
  const alerts = document.getElementById('process-alerts');
  const jobsBox = document.getElementById('process-jobs');
  const progressTemplate = document.getElementById('job-progress-template');
  const MAX_PANELS = 8;
  const q = (v) => window.CSS.escape(v);

  // A process's state on a host (not a job status): badge colour and default label.
  const STATES = {
    running: ['success', t('running')],
    stopped: ['danger', t('stopped')],
    unknown: ['warning', t('unknown')],
    pending: ['light', '…'],
  };
  const PENDING = { status: t('checking…'), start: t('starting…'), stop: t('stopping…'), restart: t('restarting…') };

  function setCell(cell, state, label, title) {
    const [color, text] = STATES[state];
    cell.setAttribute('data-state', state);
    cell.title = title || '';
    cell.replaceChildren(el('span', { class: 'badge text-bg-' + color }, label || text));
  }

  function cellsFor(process, scope) {
    let selector = '.process-host-row[data-process="' + q(process) + '"]';
    if (scope.group) selector += '[data-group="' + q(scope.group) + '"]';
    if (scope.host) selector += '[data-host="' + q(scope.host) + '"]';
    return Array.from(page.querySelectorAll(selector + ' .process-status'));
  }

  /** What a finished host result says about the process: status exit 0 = running, other exit = stopped. */
  function stateOf(action, h) {
    if (h.status === 'queued' || h.status === 'running') return null;
    if (action === 'status') {
      if (typeof h.exitCode === 'number') return h.exitCode === 0 ? 'running' : 'stopped';
      return h.status === 'succeeded' ? 'running' : 'unknown';
    }
    if (h.status === 'succeeded') return action === 'stop' ? 'stopped' : 'running';
    return 'unknown';
  }

  function applyResult(process, action, h) {
    const state = stateOf(action, h);
    if (!state) return;
    const title = state === 'unknown' ? (h.error ? recorded(h.error) : t('The command failed; see the output below.')) : action === 'status' ? '' : t('after {{action}}', { action: t(action) });
    cellsFor(process, { host: h.host }).forEach((cell) => setCell(cell, state, null, title));
  }

  // Trackers of the panels, so removing a panel also closes its event stream.
  const trackers = new WeakMap();
  function removePanel(panel) {
    trackers.get(panel)?.close();
    panel.remove();
  }

  function addPanel(jobId, label) {
    const panel = el('section', { class: 'card mb-3 process-job', 'data-job-id': jobId },
      el('div', { class: 'card-header d-flex align-items-center gap-2' },
        el('span', { class: 'me-auto' }, label),
        el('a', { href: '/jobs/' + encodeURIComponent(jobId) }, t('job #{{id}}', { id: jobId })), ' ',
        el('span', { class: badgeClass('running') + ' job-status', 'data-status': 'running' }, t('running')),
        el('button', { type: 'button', class: 'btn-close process-job-close', 'aria-label': t('Remove') })),
      el('div', { class: 'card-body p-2 job-progress-panel process-job-body' }));
    jobsBox.prepend(panel);
    Array.from(jobsBox.querySelectorAll('.process-job')).slice(MAX_PANELS).forEach(removePanel);
    return panel;
  }

  jobsBox.addEventListener('click', (ev) => {
    const close = ev.target.closest('.process-job-close');
    if (close) removePanel(close.closest('.process-job'));
  });

  function describe(action, process, scope) {
    const words = { action: t(action), process };
    if (scope.host) return t('{{action}} {{process}} on {{host}}', { ...words, host: scope.host });
    if (scope.group) return t('{{action}} {{process}} on group {{group}}', { ...words, group: scope.group });
    return t('{{action}} {{process}} on all its hosts', words);
  }

  async function runAction(action, process, scope, batchSize) {
    const body = { action, processes: [process] };
    if (batchSize) body.batchSize = batchSize;
    if (scope.group) body.groups = [scope.group];
    if (scope.host) body.hosts = [scope.host];
    const label = describe(action, process, scope);
    let jobId;
    try {
      jobId = (await fetchJson(api, { method: 'POST', body })).jobId;
    } catch (err) {
      showAlert(alerts, 'danger', t('Could not {{what}}: {{error}}', { what: label, error: err.message }));
      return;
    }
    const cells = cellsFor(process, scope);
    cells.forEach((cell) => setCell(cell, 'pending', PENDING[action]));
    const panel = addPanel(jobId, label);
    const root = createProgress(panel.querySelector('.job-progress-panel'), progressTemplate);
    trackers.set(panel, trackJob(root, jobId, {
      statusEl: panel.querySelector('.job-status'),
      onHost: (e) => applyResult(process, action, e),
      onEnd: (job) => {
        job.hosts.forEach((h) => applyResult(process, action, h));
        cells.filter((cell) => cell.getAttribute('data-state') === 'pending').forEach((cell) => setCell(cell, 'unknown', null, t('No result for this host.')));
      },
      onProblem: (message) => showAlert(alerts, 'warning', message),
    }));
  }

  // Stop and restart interrupt a service: ask first, in a Bootstrap dialog.
  const modalEl = document.getElementById('process-confirm');
  const confirmText = modalEl.querySelector('.process-confirm-text');
  const confirmOk = document.getElementById('process-confirm-ok');
  let pending = null;
  confirmOk.addEventListener('click', () => {
    bootstrap.Modal.getOrCreateInstance(modalEl).hide();
    const run = pending;
    pending = null;
    if (run) run();
  });

  page.addEventListener('click', (ev) => {
    const button = ev.target.closest('.process-action');
    if (!button) return;
    const action = button.getAttribute('data-action');
    const process = button.getAttribute('data-process');
    const scope = { group: button.getAttribute('data-group') || undefined, host: button.getAttribute('data-host') || undefined };
    if (action === 'start') return void runAction(action, process, scope);
    const count = cellsFor(process, scope).length;
    const what = describe(action, process, scope) + (count ? ' ' + t('({{count}} hosts)', { count }) : '');
    confirmText.textContent = t('Really {{what}}?', { what }) + ' ' +
      (action === 'stop' ? t('The process stays down until someone starts it.') : t('The process is briefly down while it restarts.'));
    confirmOk.textContent = action === 'stop' ? t('Stop') : t('Restart');
    confirmOk.setAttribute('data-action', action);
    // Batches only make sense for more than one host.
    const batchInput = document.getElementById('process-batch-size');
    batchInput.value = '';
    modalEl.querySelector('.process-rolling').classList.toggle('d-none', count < 2);
    pending = () => runAction(action, process, scope, Number(batchInput.value) || undefined);
    bootstrap.Modal.getOrCreateInstance(modalEl).show();
  });

  const refresh = document.getElementById('refresh-status');
  if (refresh) {
    refresh.addEventListener('click', async () => {
      refresh.disabled = true;
      const names = Array.from(page.querySelectorAll('.process-card')).map((card) => card.getAttribute('data-process'))
        .filter((name) => cellsFor(name, {}).length > 0);
      try {
        await Promise.all(names.map((name) => runAction('status', name, {})));
      } finally {
        refresh.disabled = false;
      }
    });
  }
}
