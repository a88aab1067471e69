// Job progress: one row per host, kept up to date from the job's Server-Sent Events (snapshot, progress, end).
// The markup comes from views/pages/jobs/_progress.ejs (rows it rendered, and its <template> for new hosts), so the
// job page and the processes page (which clones the whole partial from a <template>) share one copy of it.
import { fmtDuration, setStatusBadge, t } from './ui.js';
import { tr as recorded } from './i18n.js';
import { showHostUpload, showOverall } from './upload-bars.js';

const ACTIVE = ['queued', 'running', 'paused'];
const MAX_OUTPUT_CHARS = 512 * 1024;

/** ISO time from a date-like value, '' for none. */
export const iso = (d) => (d ? new Date(d).toISOString() : '');

/** Wraps a progress container (server-rendered or from create()) and applies job JSON and live events to it. */
export function progressView(root, opts = {}) {
  const tbody = root.querySelector('tbody.job-hosts');
  const rowTemplate = root.querySelector('template.host-row-template');
  const rows = new Map();
  const statusEl = opts.statusEl || root.querySelector('.job-status');
  const summaryEl = opts.summaryEl || null;
  const messageEl = opts.messageEl || null;
  const serverBox = root.querySelector('.server-output');
  // Latest upload count per host; the overall bars show once the job is seen running (not on a finished job's page).
  const uploads = new Map();
  let followed = false;

  tbody.querySelectorAll('tr[data-host]').forEach((tr) => rows.set(tr.getAttribute('data-host'), tr));

  function row(name) {
    let tr = rows.get(name);
    if (!tr) {
      const fragment = rowTemplate.content.cloneNode(true);
      tr = fragment.querySelector('tr[data-host]');
      tr.setAttribute('data-host', name);
      tr.querySelector('.host-name').textContent = name || t('Ferry server');
      fragment.querySelector('tr[data-output-for]').setAttribute('data-output-for', name);
      tbody.append(fragment);
      rows.set(name, tr);
    }
    return tr;
  }
  const outputRow = (tr) => tr.nextElementSibling;
  const pre = (tr) => outputRow(tr).querySelector('pre.output');

  function setOutputLabel(tr) {
    const open = !outputRow(tr).classList.contains('d-none');
    tr.querySelector('.output-size').textContent = open ? t('Hide') : pre(tr).textContent ? t('Show') : t('Empty');
  }

  function writeOutput(target, text, replace) {
    const atBottom = target.scrollTop + target.clientHeight >= target.scrollHeight - 4;
    if (replace) target.textContent = text;
    else target.append(text);
    if (target.textContent.length > MAX_OUTPUT_CHARS) target.textContent = target.textContent.slice(-MAX_OUTPUT_CHARS);
    if (atBottom) target.scrollTop = target.scrollHeight;
  }

  function tickRow(cell) {
    const started = cell.getAttribute('data-started');
    if (!started) return void (cell.textContent = '');
    const finished = cell.getAttribute('data-finished');
    cell.textContent = fmtDuration((finished ? Date.parse(finished) : Date.now()) - Date.parse(started));
  }

  function setHost(name, h) {
    const tr = row(name);
    if (h.status) {
      tr.setAttribute('data-status', h.status);
      setStatusBadge(tr.querySelector('.host-status .badge'), h.status);
    }
    if (h.phase) {
      const phase = tr.querySelector('.host-phase-name');
      phase.setAttribute('data-phase', h.phase);
      phase.textContent = recorded(h.phase);
    }
    if (h.upload) setUpload(name, h.upload);
    if (h.error !== undefined) tr.querySelector('.host-error').textContent = h.error ? recorded(h.error) : '';
    const gate = tr.querySelector('.host-gate');
    if (gate && h.gate !== undefined) {
      gate.classList.toggle('d-none', !h.gate);
      gate.querySelector('.host-gate-text').textContent = h.gate ? recorded(h.gate) : '';
    }
    const elapsed = tr.querySelector('.host-elapsed');
    if (h.startedAt !== undefined) elapsed.setAttribute('data-started', iso(h.startedAt));
    if (h.finishedAt !== undefined) elapsed.setAttribute('data-finished', iso(h.finishedAt));
    // Live events carry no times: the first "running" starts the clock, the final state stops it.
    if (h.status === 'running' && !elapsed.getAttribute('data-started')) elapsed.setAttribute('data-started', new Date().toISOString());
    if ((h.status === 'succeeded' || h.status === 'failed' || h.status === 'skipped') && !elapsed.getAttribute('data-finished')) elapsed.setAttribute('data-finished', new Date().toISOString());
    if (h.output !== undefined) {
      writeOutput(pre(tr), h.output || '', true);
      setOutputLabel(tr);
    }
    tickRow(elapsed);
  }

  function setUpload(name, upload) {
    uploads.set(name, upload);
    showHostUpload(row(name), upload);
  }

  function summarize() {
    if (followed) {
      showOverall(root, Array.from(rows, ([name, tr]) => ({ status: tr.getAttribute('data-status'), upload: uploads.get(name) })));
    }
    if (!summaryEl) return;
    let done = 0, failed = 0;
    rows.forEach((tr) => {
      const s = tr.getAttribute('data-status');
      if (s === 'succeeded') done++;
      if (s === 'failed') failed++;
    });
    summaryEl.textContent = failed ? t('{{done}} of {{total}} done, {{failed}} failed', { done, total: rows.size, failed }) : t('{{done}} of {{total}} done', { done, total: rows.size });
  }

  function setStatus(status, message) {
    if (ACTIVE.includes(status)) followed = true;
    setStatusBadge(statusEl, status);
    if (messageEl) messageEl.textContent = ACTIVE.includes(status) && message ? recorded(message) : '';
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
    const duration = opts.durationEl;
    if (duration && duration.getAttribute('data-started') && !duration.getAttribute('data-finished')) {
      duration.textContent = fmtDuration(Date.now() - Date.parse(duration.getAttribute('data-started')));
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
        setHost(e.host, { status: e.status, phase: e.phase, error: e.error, gate: e.gate });
        summarize();
      } else if (e.type === 'progress') {
        setUpload(e.host, e);
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
 * Follows a job live. opts: statusEl, summaryEl, messageEl, durationEl, onHost(event), onWaves(waves), onEnd(job),
 * onProblem(message).
 * Returns { close() }.
 */
export function trackJob(root, jobId, opts = {}) {
  const progress = progressView(root, opts);
  let ended = false;
  const source = new EventSource('/api/jobs/' + encodeURIComponent(jobId) + '/events');
  source.addEventListener('snapshot', (ev) => {
    const job = JSON.parse(ev.data);
    progress.applyJob(job);
    if (job.waves && opts.onWaves) opts.onWaves(job.waves, job);
  });
  source.addEventListener('progress', (ev) => {
    const e = JSON.parse(ev.data);
    progress.applyEvent(e);
    if (e.type === 'host' && opts.onHost) opts.onHost(e);
    if (e.type === 'waves' && opts.onWaves) opts.onWaves(e.waves);
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
      if (opts.onProblem) opts.onProblem(t('Live updates stopped. Reload the page to see the latest state of the job.'));
    } else if (opts.messageEl) {
      opts.messageEl.textContent = t('connection lost, reconnecting…');
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

/** Fills an empty container with an empty progress table cloned from `template` (the _progress partial) and returns it. */
export function createProgress(container, template) {
  container.replaceChildren(template.content.cloneNode(true));
  return container;
}
