// Job page: live progress (lib/job-progress.js), the result when the job ends, retry, the rollback dialog, and for a
// publish in waves the waves panel (lib/waves.js) with Continue, Continue anyway and Stop here.
import { alertElement, el, fetchJson, fmtDate, fmtDuration, showAlert, statusLabel, t } from './lib/ui.js';
import { tr as recorded } from './lib/i18n.js';
import { iso, progressView, trackJob } from './lib/job-progress.js';
import { setUpApproval } from './lib/approval.js';
import { continueOffer, wavesPanel } from './lib/waves.js';
import { renderTimeline } from './lib/timeline.js';

const page = document.getElementById('job-page');
if (page) setUpJobPage(page);

function setUpJobPage(page) {
  // Times the server rendered (in its own time zone) are shown in the browser's.
  page.querySelectorAll('time.local-time[datetime]').forEach((node) => {
    const text = fmtDate(node.getAttribute('datetime'));
    if (text) node.textContent = text;
  });
  const jobId = Number(page.getAttribute('data-job-id'));
  const progressRoot = document.getElementById('job-progress');
  const alerts = document.getElementById('job-alerts');
  const common = {
    statusEl: document.getElementById('job-status'), summaryEl: page.querySelector('.job-summary'),
    messageEl: page.querySelector('.job-message'), durationEl: document.getElementById('job-duration'),
  };

  // Same words as the server-rendered result in views/pages/jobs/show.ejs.
  function showResult(job) {
    const ok = job.hosts.filter((h) => h.status === 'succeeded').length;
    const kind = job.status === 'succeeded' ? 'success' : job.status === 'partial' ? 'warning' : 'danger';
    const text = job.status === 'succeeded'
      ? t('Finished: succeeded on all {{total}} host(s).', { total: job.hosts.length })
      : t('Finished: {{status}}, {{ok}} of {{total}} host(s) succeeded.', { status: statusLabel(job.status), ok, total: job.hosts.length });
    document.getElementById('job-result').replaceChildren(alertElement(kind, [text, job.error ? recorded(job.error) : job.error], { dismissible: false, role: 'status', detailClass: 'mt-1' }));
  }

  // The timeline is drawn once the job is over (phase times come from the stored job), and again to the new width
  // when the window is resized.
  let timelineHosts = null;
  let redraw = null;
  function showTimeline(job) {
    const section = document.getElementById('job-timeline-section');
    if (!section || !job.hosts.some((h) => h.timeline && h.timeline.length)) return;
    section.classList.remove('d-none');
    if (!timelineHosts) {
      window.addEventListener('resize', () => {
        clearTimeout(redraw);
        redraw = setTimeout(() => renderTimeline(document.getElementById('job-timeline'), timelineHosts), 200);
      });
    }
    timelineHosts = job.hosts;
    renderTimeline(document.getElementById('job-timeline'), timelineHosts);
  }

  function onEnd(job) {
    showResult(job);
    showTimeline(job);
    const finished = document.getElementById('job-finished');
    if (finished && job.finishedAt) finished.textContent = fmtDate(iso(job.finishedAt));
    const duration = common.durationEl;
    if (duration && job.startedAt && job.finishedAt) {
      duration.setAttribute('data-finished', iso(job.finishedAt));
      duration.textContent = fmtDuration(Date.parse(job.finishedAt) - Date.parse(job.startedAt));
    }
    const revision = document.getElementById('job-revision');
    if (revision && job.revision) revision.textContent = 'r' + job.revision;
    document.getElementById('rollback-button')?.classList.remove('d-none');
    const retry = document.getElementById('retry-button');
    if (retry && job.hosts.some((h) => h.status !== 'succeeded')) retry.classList.remove('d-none');
    if (job.waves) onWaves(job.waves, job);
  }

  // ---- publish in waves: the panel, and Continue (next wave) / Continue anyway (the waves left, as a new job) ----
  const waves = wavesPanel(document.getElementById('waves-panel'));
  const continueButton = document.getElementById('continue-button');
  const stopButton = document.getElementById('stop-waves-button');
  let lastJob = { status: page.getAttribute('data-active') ? 'running' : 'finished', hosts: [] };
  function onWaves(state, job) {
    if (job) lastJob = job;
    waves?.apply(state);
    if (!continueButton) return;
    const offer = continueOffer(lastJob, state);
    continueButton.classList.toggle('d-none', !offer);
    continueButton.disabled = false;
    continueButton.querySelector('.continue-label').textContent = offer === 'anyway' ? t('Continue anyway') : t('Continue');
    stopButton.classList.toggle('d-none', offer !== 'continue');
    stopButton.disabled = false;
  }
  /** Continue or Stop here: POSTs, then follows a new job (Continue anyway) or lets the live events tell the rest. */
  function waveAction(button, path) {
    button.addEventListener('click', async () => {
      continueButton.disabled = stopButton.disabled = true;
      try {
        const result = await fetchJson('/api/jobs/' + jobId + '/' + path, { method: 'POST', body: {} });
        if (result.jobId !== jobId) return window.location.assign('/jobs/' + result.jobId);
        continueButton.classList.add('d-none');
        stopButton.classList.add('d-none');
      } catch (err) {
        showAlert(alerts, 'danger', err.message);
        continueButton.disabled = stopButton.disabled = false;
      }
    });
  }
  if (continueButton) {
    waveAction(continueButton, 'continue');
    waveAction(stopButton, 'stop-waves');
  }

  setUpApproval(jobId);

  // ---- retry: the same job again on the hosts where it failed ----
  // "Retry, overwriting hand edits": only where hosts refused because files there were edited by hand.
  const retryWith = (button, body) => {
    if (!button) return;
    button.addEventListener('click', async () => {
      const question = button.getAttribute('data-confirm-text');
      if (question && !window.confirm(question)) return;
      button.disabled = true;
      try {
        const result = await fetchJson('/api/jobs/' + jobId + '/retry', { method: 'POST', body });
        window.location.assign('/jobs/' + result.jobId);
      } catch (err) {
        showAlert(alerts, 'danger', err.message);
        button.disabled = false;
      }
    });
  };
  retryWith(document.getElementById('retry-button'), {});
  retryWith(document.getElementById('retry-overwrite-button'), { overwriteDrift: true });

  if (page.getAttribute('data-active')) {
    trackJob(progressRoot, jobId, { ...common, onEnd, onWaves, onProblem: (message) => showAlert(alerts, 'warning', message) });
  } else {
    progressView(progressRoot, common).stop();
    fetchJson('/api/jobs/' + jobId).then(showTimeline, (err) => showAlert(alerts, 'warning', t('The timeline could not be loaded: {{error}}', { error: err.message })));
  }

  const rollbackButton = document.getElementById('rollback-button');
  const modalEl = document.getElementById('rollback-modal');
  if (rollbackButton && modalEl) setUpRollback(jobId, rollbackButton, modalEl);
}

/** What a rollback would undo, grouped so hosts with the same list of publishes share one line. */
function planView(jobId, plan) {
  if (!plan.hosts.length) {
    return alertElement('info', t('Nothing to roll back: no host still has a snapshot from this publish. It may have been rolled back already, or it failed before changing any host.'),
      { dismissible: false, role: 'status', className: 'mb-0' });
  }
  const later = plan.undoes.filter((id) => id !== jobId);
  const jobLink = (id) => el('a', { href: '/jobs/' + id, target: '_blank', rel: 'noopener' }, '#' + id);
  const byJobs = new Map();
  for (const h of plan.hosts) {
    const key = h.jobIds.join(',');
    if (!byJobs.has(key)) byJobs.set(key, { jobIds: h.jobIds, hosts: [] });
    byJobs.get(key).hosts.push(h.host);
  }
  return [
    el('p', {}, t('The files this publish changed are put back as they were before it, on {{n}} host(s).', { n: plan.hosts.length })),
    later.length ? el('div', { class: 'alert alert-warning' },
      t('This also undoes {{n}} later publish(es) on the same hosts, newest first:', { n: later.length }), ' ',
      later.flatMap((id, i) => (i ? [', ', jobLink(id)] : [jobLink(id)]))) : null,
    el('table', { class: 'table table-sm', id: 'rollback-plan-table' },
      el('thead', {}, el('tr', {}, el('th', { class: 'text-nowrap' }, t('Undoes (newest first)')), el('th', {}, t('On hosts')))),
      el('tbody', {}, Array.from(byJobs.values(), (entry) => el('tr', {},
        el('td', { class: 'text-nowrap' }, entry.jobIds.map((id) => '#' + id).join(', ')),
        el('td', { class: 'small font-monospace' }, entry.hosts.join(', ')))))),
  ].filter(Boolean);
}

function setUpRollback(jobId, rollbackButton, modalEl) {
  const planBox = modalEl.querySelector('.rollback-plan');
  const errorBox = modalEl.querySelector('.rollback-error');
  const confirmButton = document.getElementById('rollback-confirm');

  rollbackButton.addEventListener('click', async () => {
    planBox.textContent = t('Loading what a rollback would undo…');
    errorBox.replaceChildren();
    confirmButton.disabled = true;
    bootstrap.Modal.getOrCreateInstance(modalEl).show();
    try {
      const plan = await fetchJson('/api/jobs/' + jobId + '/rollback-plan');
      planBox.replaceChildren(...[].concat(planView(jobId, plan)));
      confirmButton.disabled = plan.hosts.length === 0;
    } catch (err) {
      planBox.replaceChildren();
      showAlert(errorBox, 'danger', err.message, { replace: true });
    }
  });

  confirmButton.addEventListener('click', async () => {
    confirmButton.disabled = true;
    errorBox.replaceChildren();
    try {
      const result = await fetchJson('/api/jobs/' + jobId + '/rollback', { method: 'POST', body: {} });
      window.location.assign('/jobs/' + result.jobId);
    } catch (err) {
      showAlert(errorBox, 'danger', err.message, { replace: true });
      confirmButton.disabled = false;
    }
  });
}
