// Processes page: start / stop / restart a process on a host, a group or all its hosts, and "Refresh status"
// (one status job per process, so each host's cell is that process's own exit code). Progress shows inline.
(function () {
  'use strict';
  const page = document.getElementById('processes-page');
  if (!page || !window.FerryJobProgress) return;
  const P = window.FerryJobProgress;
  const api = '/api/projects/' + encodeURIComponent(page.getAttribute('data-project')) + '/processes';
  const alerts = document.getElementById('process-alerts');
  const jobsBox = document.getElementById('process-jobs');
  const MAX_PANELS = 8;
  const q = (v) => window.CSS.escape(v);

  const STATES = {
    running: ['success', 'running'],
    stopped: ['danger', 'stopped'],
    unknown: ['warning', 'unknown'],
    pending: ['light', '…'],
  };
  const PENDING = { status: 'checking…', start: 'starting…', stop: 'stopping…', restart: 'restarting…' };

  function setCell(cell, state, label, title) {
    const [color, text] = STATES[state];
    cell.setAttribute('data-state', state);
    cell.title = title || '';
    cell.innerHTML = '<span class="badge text-bg-' + color + '">' + P.esc(label || text) + '</span>';
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
    const title = state === 'unknown' ? (h.error || 'The command failed; see the output below.') : action === 'status' ? '' : 'after ' + action;
    cellsFor(process, { host: h.host }).forEach((cell) => setCell(cell, state, null, title));
  }

  function addPanel(jobId, label) {
    const panel = document.createElement('section');
    panel.className = 'card mb-3 process-job';
    panel.setAttribute('data-job-id', jobId);
    panel.innerHTML = '<div class="card-header d-flex align-items-center gap-2"><span class="me-auto">' + P.esc(label) + '</span>' +
      '<a href="/jobs/' + Number(jobId) + '">job #' + Number(jobId) + '</a> <span class="' + P.badgeClass('running') + ' job-status">running</span>' +
      '<button type="button" class="btn-close process-job-close" aria-label="Remove"></button></div>' +
      '<div class="card-body p-2 job-progress-panel process-job-body"></div>';
    jobsBox.prepend(panel);
    const panels = jobsBox.querySelectorAll('.process-job');
    for (let i = MAX_PANELS; i < panels.length; i++) {
      if (panels[i].tracker) panels[i].tracker.close();
      panels[i].remove();
    }
    return panel;
  }

  jobsBox.addEventListener('click', (ev) => {
    const close = ev.target.closest('.process-job-close');
    if (!close) return;
    const panel = close.closest('.process-job');
    if (panel.tracker) panel.tracker.close();
    panel.remove();
  });

  function describe(action, process, scope) {
    return action + ' ' + process + ' on ' + (scope.host ? scope.host : scope.group ? 'group ' + scope.group : 'all its hosts');
  }

  async function runAction(action, process, scope, batchSize) {
    const body = { action, processes: [process] };
    if (batchSize) body.batchSize = batchSize;
    if (scope.group) body.groups = [scope.group];
    if (scope.host) body.hosts = [scope.host];
    const label = describe(action, process, scope);
    let jobId;
    try {
      jobId = (await window.ferryFetch(api, { method: 'POST', body })).jobId;
    } catch (err) {
      alerts.insertAdjacentHTML('beforeend', P.alertHtml('danger', 'Could not ' + label + ': ' + err.message));
      return;
    }
    const cells = cellsFor(process, scope);
    cells.forEach((cell) => setCell(cell, 'pending', PENDING[action]));
    const panel = addPanel(jobId, label);
    const root = P.create(panel.querySelector('.job-progress-panel'));
    panel.tracker = P.track(root, jobId, {
      statusEl: panel.querySelector('.job-status'),
      onHost: (e) => applyResult(process, action, e),
      onEnd: (job) => {
        job.hosts.forEach((h) => applyResult(process, action, h));
        cells.filter((cell) => cell.getAttribute('data-state') === 'pending').forEach((cell) => setCell(cell, 'unknown', null, 'No result for this host.'));
      },
      onProblem: (message) => alerts.insertAdjacentHTML('beforeend', P.alertHtml('warning', message)),
    });
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
    confirmText.textContent = 'Really ' + describe(action, process, scope) + (count ? ' (' + count + ' host' + (count === 1 ? '' : 's') + ')' : '') +
      '? ' + (action === 'stop' ? 'The process stays down until someone starts it.' : 'The process is briefly down while it restarts.');
    confirmOk.textContent = action === 'stop' ? 'Stop' : 'Restart';
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
})();
