// Job progress: one row per host, kept up to date from the job's Server-Sent Events (snapshot, progress, end).
// The job page uses it with the result and the rollback dialog; processes.js reuses it through window.FerryJobProgress.
(function () {
  'use strict';
  const ACTIVE = ['queued', 'running'];
  const BADGE = { succeeded: 'success', ok: 'success', running: 'primary', queued: 'secondary', failed: 'danger', partial: 'warning', interrupted: 'dark' };
  const MAX_OUTPUT_CHARS = 512 * 1024;
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const badgeClass = (status) => 'badge text-bg-' + (BADGE[status] || 'secondary');
  const iso = (d) => (d ? new Date(d).toISOString() : '');

  function fmtDuration(ms) {
    if (ms == null || Number.isNaN(ms)) return '';
    ms = Math.max(0, ms);
    if (ms < 1000) return ms + ' ms';
    const s = Math.round(ms / 1000);
    return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  }

  function setBadge(el, status) {
    if (!el) return;
    el.className = el.className.split(' ').filter((c) => c !== 'badge' && !c.startsWith('text-bg-')).concat(badgeClass(status).split(' ')).join(' ');
    el.textContent = status;
    el.setAttribute('data-status', status);
  }

  function alertHtml(kind, message) {
    return '<div class="alert alert-' + kind + ' alert-dismissible fade show" role="alert">' + esc(message) +
      '<button type="button" class="btn-close" data-bs-dismiss="alert" aria-label="Close"></button></div>';
  }

  // Same markup as views/pages/jobs/_progress.ejs, for hosts that were not rendered by the server.
  function hostRowsHtml(name) {
    return '<tr data-host="' + esc(name) + '" data-status="queued">' +
      '<td class="host-name font-monospace">' + esc(name || 'Ferry server') + '</td>' +
      '<td class="host-status"><span class="' + badgeClass('queued') + '">queued</span></td>' +
      '<td class="host-phase"><span class="host-phase-name">queued</span><div class="host-error small text-danger"></div></td>' +
      '<td class="host-elapsed text-nowrap" data-started="" data-finished=""></td>' +
      '<td class="text-end"><button type="button" class="btn btn-sm btn-outline-secondary host-output-toggle" aria-expanded="false"><i class="bi bi-terminal"></i> <span class="output-size">Empty</span></button></td>' +
      '</tr><tr class="host-output-row d-none" data-output-for="' + esc(name) + '"><td colspan="5"><pre class="output mb-0"></pre></td></tr>';
  }

  const SKELETON = '<div class="server-output d-none mb-2"><div class="small text-secondary">Ferry server (hooks, export)</div><pre class="output mb-0"></pre></div>' +
    '<div class="table-responsive"><table class="table table-sm align-middle job-progress mb-0">' +
    '<thead><tr><th>Host</th><th>Status</th><th>Phase</th><th>Elapsed</th><th class="text-end">Output</th></tr></thead>' +
    '<tbody class="job-hosts"></tbody></table></div>';

  /** Wraps a progress container (server-rendered or from create()) and applies job JSON and live events to it. */
  function progressView(root, opts) {
    opts = opts || {};
    const tbody = root.querySelector('tbody.job-hosts');
    const rows = new Map();
    const statusEl = opts.statusEl || root.querySelector('.job-status');
    const summaryEl = opts.summaryEl || null;
    const messageEl = opts.messageEl || null;
    const serverBox = root.querySelector('.server-output');

    tbody.querySelectorAll('tr[data-host]').forEach((tr) => rows.set(tr.getAttribute('data-host'), tr));

    function row(name) {
      let tr = rows.get(name);
      if (!tr) {
        tbody.insertAdjacentHTML('beforeend', hostRowsHtml(name));
        tr = tbody.lastElementChild.previousElementSibling;
        rows.set(name, tr);
      }
      return tr;
    }
    const outputRow = (tr) => tr.nextElementSibling;
    const pre = (tr) => outputRow(tr).querySelector('pre.output');

    function setOutputLabel(tr) {
      const open = !outputRow(tr).classList.contains('d-none');
      tr.querySelector('.output-size').textContent = open ? 'Hide' : pre(tr).textContent ? 'Show' : 'Empty';
    }

    function writeOutput(target, text, replace) {
      const atBottom = target.scrollTop + target.clientHeight >= target.scrollHeight - 4;
      if (replace) target.textContent = text;
      else target.appendChild(document.createTextNode(text));
      if (target.textContent.length > MAX_OUTPUT_CHARS) target.textContent = target.textContent.slice(-MAX_OUTPUT_CHARS);
      if (atBottom) target.scrollTop = target.scrollHeight;
    }

    function setHost(name, h) {
      const tr = row(name);
      if (h.status) {
        tr.setAttribute('data-status', h.status);
        setBadge(tr.querySelector('.host-status .badge'), h.status);
      }
      if (h.phase) tr.querySelector('.host-phase-name').textContent = h.phase;
      if (h.error !== undefined) tr.querySelector('.host-error').textContent = h.error || '';
      const elapsed = tr.querySelector('.host-elapsed');
      if (h.startedAt !== undefined) elapsed.setAttribute('data-started', iso(h.startedAt));
      if (h.finishedAt !== undefined) elapsed.setAttribute('data-finished', iso(h.finishedAt));
      // Live events carry no times: the first "running" starts the clock, the final state stops it.
      if (h.status === 'running' && !elapsed.getAttribute('data-started')) elapsed.setAttribute('data-started', new Date().toISOString());
      if ((h.status === 'succeeded' || h.status === 'failed') && !elapsed.getAttribute('data-finished')) elapsed.setAttribute('data-finished', new Date().toISOString());
      if (h.output !== undefined) {
        writeOutput(pre(tr), h.output || '', true);
        setOutputLabel(tr);
      }
      tickRow(elapsed);
    }

    function tickRow(cell) {
      const started = cell.getAttribute('data-started');
      if (!started) return void (cell.textContent = '');
      const finished = cell.getAttribute('data-finished');
      cell.textContent = fmtDuration((finished ? Date.parse(finished) : Date.now()) - Date.parse(started));
    }

    function summarize() {
      if (!summaryEl) return;
      let done = 0, failed = 0;
      rows.forEach((tr) => {
        const s = tr.getAttribute('data-status');
        if (s === 'succeeded') done++;
        if (s === 'failed') failed++;
      });
      summaryEl.textContent = done + ' of ' + rows.size + ' done' + (failed ? ', ' + failed + ' failed' : '');
    }

    function setStatus(status, message) {
      setBadge(statusEl, status);
      if (messageEl) messageEl.textContent = ACTIVE.includes(status) && message ? message : '';
    }

    root.addEventListener('click', (ev) => {
      const button = ev.target.closest('.host-output-toggle');
      if (!button || !root.contains(button)) return;
      const tr = button.closest('tr');
      const open = outputRow(tr).classList.toggle('d-none') === false;
      button.setAttribute('aria-expanded', String(open));
      setOutputLabel(tr);
      if (open) pre(tr).scrollTop = pre(tr).scrollHeight;
    });

    const timer = setInterval(() => {
      root.querySelectorAll('.host-elapsed[data-started]').forEach((cell) => {
        if (!cell.getAttribute('data-finished')) tickRow(cell);
      });
      if (opts.durationEl && opts.durationEl.getAttribute('data-started') && !opts.durationEl.getAttribute('data-finished')) {
        opts.durationEl.textContent = fmtDuration(Date.now() - Date.parse(opts.durationEl.getAttribute('data-started')));
      }
    }, 1000);

    summarize();
    return {
      /** Full job JSON (GET /api/jobs/:id, SSE snapshot and end). */
      applyJob(job) {
        for (const h of job.hosts) setHost(h.host, h);
        if (serverBox && job.output) {
          serverBox.classList.remove('d-none');
          writeOutput(serverBox.querySelector('pre'), job.output, true);
        }
        setStatus(job.status);
        summarize();
      },
      /** One engine event from the SSE "progress" stream. */
      applyEvent(e) {
        if (e.type === 'host') {
          setHost(e.host, { status: e.status, phase: e.phase, error: e.error });
          summarize();
        } else if (e.type === 'output') {
          if (e.host === '' && serverBox) {
            serverBox.classList.remove('d-none');
            writeOutput(serverBox.querySelector('pre'), e.text, false);
          } else {
            const tr = row(e.host);
            writeOutput(pre(tr), e.text, false);
            if (outputRow(tr).classList.contains('d-none')) setOutputLabel(tr);
          }
        } else if (e.type === 'job') {
          setStatus(e.status, e.message);
        }
      },
      stop() {
        clearInterval(timer);
      },
    };
  }

  /**
   * Follows a job live. opts: statusEl, summaryEl, messageEl, durationEl, onHost(event), onEnd(job), onProblem(message).
   * Returns { close() }.
   */
  function track(root, jobId, opts) {
    opts = opts || {};
    const progress = progressView(root, opts);
    let ended = false;
    const source = new EventSource('/api/jobs/' + encodeURIComponent(jobId) + '/events');
    source.addEventListener('snapshot', (ev) => progress.applyJob(JSON.parse(ev.data)));
    source.addEventListener('progress', (ev) => {
      const e = JSON.parse(ev.data);
      progress.applyEvent(e);
      if (e.type === 'host' && opts.onHost) opts.onHost(e);
    });
    source.addEventListener('end', (ev) => {
      ended = true;
      source.close();
      const job = JSON.parse(ev.data);
      progress.applyJob(job);
      progress.stop();
      if (opts.onEnd) opts.onEnd(job);
    });
    source.addEventListener('error', () => {
      if (ended) return;
      // The browser reconnects by itself (and gets a fresh snapshot) unless the server refused the stream.
      if (source.readyState === EventSource.CLOSED) {
        progress.stop();
        if (opts.onProblem) opts.onProblem('Live updates stopped. Reload the page to see the latest state of the job.');
      } else if (opts.messageEl) {
        opts.messageEl.textContent = 'connection lost, reconnecting…';
      }
    });
    return {
      close() {
        ended = true;
        source.close();
        progress.stop();
      },
    };
  }

  /** Fills an empty container with a progress table and returns it. */
  function create(container) {
    container.innerHTML = SKELETON;
    return container;
  }

  window.FerryJobProgress = { track, create, fmtDuration, esc, alertHtml, badgeClass };

  // ---- the job page ----
  const page = document.getElementById('job-page');
  if (!page) return;
  const jobId = Number(page.getAttribute('data-job-id'));
  const progressRoot = document.getElementById('job-progress');
  const statusEl = document.getElementById('job-status');
  const alerts = document.getElementById('job-alerts');
  const common = {
    statusEl, summaryEl: page.querySelector('.job-summary'), messageEl: page.querySelector('.job-message'),
    durationEl: document.getElementById('job-duration'),
  };

  function showResult(job) {
    const ok = job.hosts.filter((h) => h.status === 'succeeded').length;
    const kind = job.status === 'succeeded' ? 'success' : job.status === 'partial' ? 'warning' : 'danger';
    const text = job.status === 'succeeded'
      ? 'Finished: succeeded on all ' + job.hosts.length + ' host(s).'
      : 'Finished: ' + job.status + ', ' + ok + ' of ' + job.hosts.length + ' host(s) succeeded.';
    document.getElementById('job-result').innerHTML = '<div class="alert alert-' + kind + '" role="status">' + esc(text) +
      (job.error ? '<div class="mt-1">' + esc(job.error) + '</div>' : '') + '</div>';
  }

  function onEnd(job) {
    showResult(job);
    const finished = document.getElementById('job-finished');
    if (finished && job.finishedAt) finished.textContent = iso(job.finishedAt).replace('T', ' ').slice(0, 19) + ' UTC';
    const duration = common.durationEl;
    if (duration && job.startedAt && job.finishedAt) {
      duration.setAttribute('data-finished', iso(job.finishedAt));
      duration.textContent = fmtDuration(Date.parse(job.finishedAt) - Date.parse(job.startedAt));
    }
    const revision = document.getElementById('job-revision');
    if (revision && job.revision) revision.textContent = 'r' + job.revision;
    const rollback = document.getElementById('rollback-button');
    if (rollback) rollback.classList.remove('d-none');
    const retry = document.getElementById('retry-button');
    if (retry && job.hosts.some((h) => h.status !== 'succeeded')) retry.classList.remove('d-none');
  }

  // ---- retry: the same job again on the hosts where it failed ----
  const retryButton = document.getElementById('retry-button');
  if (retryButton) {
    retryButton.addEventListener('click', async () => {
      retryButton.disabled = true;
      try {
        const result = await window.ferryFetch('/api/jobs/' + jobId + '/retry', { method: 'POST', body: {} });
        window.location.assign('/jobs/' + result.jobId);
      } catch (err) {
        alerts.insertAdjacentHTML('beforeend', alertHtml('danger', err.message));
        retryButton.disabled = false;
      }
    });
  }

  if (page.getAttribute('data-active')) {
    track(progressRoot, jobId, Object.assign({}, common, {
      onEnd,
      onProblem: (message) => alerts.insertAdjacentHTML('beforeend', alertHtml('warning', message)),
    }));
  } else {
    progressView(progressRoot, common).stop();
  }

  // ---- rollback ----
  const rollbackButton = document.getElementById('rollback-button');
  const modalEl = document.getElementById('rollback-modal');
  if (!rollbackButton || !modalEl) return;
  const planBox = modalEl.querySelector('.rollback-plan');
  const errorBox = modalEl.querySelector('.rollback-error');
  const confirmButton = document.getElementById('rollback-confirm');

  function planHtml(plan) {
    if (!plan.hosts.length) {
      return '<div class="alert alert-info mb-0">Nothing to roll back: no host still has a snapshot from this publish. It may have been rolled back already, or it failed before changing any host.</div>';
    }
    const later = plan.undoes.filter((id) => id !== jobId);
    let html = '<p>The files this publish changed are put back as they were before it, on ' + plan.hosts.length + ' host(s).</p>';
    if (later.length) {
      html += '<div class="alert alert-warning">This also undoes ' + later.length + ' later publish(es) on the same hosts, newest first: ' +
        later.map((id) => '<a href="/jobs/' + id + '" target="_blank" rel="noopener">#' + id + '</a>').join(', ') + '.</div>';
    }
    // Hosts with the same list of publishes to undo share one line, so 500 hosts stay readable.
    const byJobs = new Map();
    for (const h of plan.hosts) {
      const key = h.jobIds.join(',');
      if (!byJobs.has(key)) byJobs.set(key, { jobIds: h.jobIds, hosts: [] });
      byJobs.get(key).hosts.push(h.host);
    }
    html += '<table class="table table-sm" id="rollback-plan-table"><thead><tr><th class="text-nowrap">Undoes (newest first)</th><th>On hosts</th></tr></thead><tbody>';
    byJobs.forEach((entry) => {
      html += '<tr><td class="text-nowrap">' + entry.jobIds.map((id) => '#' + id).join(', ') + '</td><td class="small font-monospace">' +
        entry.hosts.map(esc).join(', ') + '</td></tr>';
    });
    return html + '</tbody></table>';
  }

  rollbackButton.addEventListener('click', async () => {
    planBox.textContent = 'Loading what a rollback would undo…';
    errorBox.innerHTML = '';
    confirmButton.disabled = true;
    bootstrap.Modal.getOrCreateInstance(modalEl).show();
    try {
      const plan = await window.ferryFetch('/api/jobs/' + jobId + '/rollback-plan');
      planBox.innerHTML = planHtml(plan);
      confirmButton.disabled = plan.hosts.length === 0;
    } catch (err) {
      planBox.innerHTML = '';
      errorBox.innerHTML = alertHtml('danger', err.message);
    }
  });

  confirmButton.addEventListener('click', async () => {
    confirmButton.disabled = true;
    errorBox.innerHTML = '';
    try {
      const result = await window.ferryFetch('/api/jobs/' + jobId + '/rollback', { method: 'POST', body: {} });
      window.location.assign('/jobs/' + result.jobId);
    } catch (err) {
      errorBox.innerHTML = alertHtml('danger', err.message);
      confirmButton.disabled = false;
    }
  });
})();
