// Job history: server-side DataTable (paging, search, sort and filters run in SQL); a row opens its job.
import { fmtDate, fmtDuration, html, statusBadgeHtml, t } from './lib/ui.js';
import { tr as recorded } from './lib/i18n.js';

const form = document.getElementById('history-filter');

/** The row's detail (src/services/history.ts describeParams, in English): a process job's action word, "of #12". */
function detailText(kind, detail) {
  if (kind === 'process') return detail.replace(/^\S+/, (action) => t(action));
  const of = /^of #(\d+)$/.exec(detail);
  return of ? t('of #{{id}}', { id: of[1] }) : recorded(detail);
}
const tableEl = document.getElementById('history-table');

if (form && tableEl) {
  const filters = () => Object.fromEntries(new FormData(form).entries());
  const table = new DataTable(tableEl, {
    serverSide: true, processing: true, pageLength: 25, order: [[0, 'desc']], searchDelay: 300,
    ajax: { url: '/jobs/data', data: (d) => Object.assign(d, filters()) },
    columns: [
      { data: 'id', render: (id) => String(html`<a href="/jobs/${id}">#${id}</a>`) },
      { data: 'createdAt', className: 'text-nowrap', render: (v) => String(html`${fmtDate(v)}`) },
      { data: 'userName', render: (v) => String(html`${v}`) },
      { data: 'kind', render: (v, _t, row) => String(html`${t(v)}${row.detail ? html` <span class="small text-secondary">${detailText(v, row.detail)}</span>` : ''}`) },
      { data: 'project', render: (v) => String(html`${v}`) },
      { data: 'revision', render: (v) => (v ? 'r' + Number(v) : '') },
      { data: 'files', orderable: false, render: (v) => String(html`${v}`) },
      { data: 'hosts', render: (v) => String(html`${v}`) },
      { data: 'status', render: (v) => String(statusBadgeHtml(v)) },
      { data: 'durationMs', orderable: false, className: 'text-nowrap', render: fmtDuration },
    ],
    columnDefs: [{ targets: [0, 1, 5], className: 'dt-left' }],
    createdRow: (tr, row) => {
      tr.setAttribute('data-job-id', row.id);
      tr.classList.add('clickable-row');
    },
  });

  tableEl.addEventListener('click', (ev) => {
    if (ev.target.closest('a, button, input')) return;
    const tr = ev.target.closest('tr[data-job-id]');
    if (tr) window.location.assign('/jobs/' + encodeURIComponent(tr.getAttribute('data-job-id')));
  });

  // Keep the address in step with the filters, so a filtered history can be bookmarked or shared.
  form.addEventListener('change', () => {
    const params = new URLSearchParams(Object.entries(filters()).filter((e) => e[1]));
    window.history.replaceState(null, '', '/jobs' + (params.toString() ? '?' + params : ''));
    table.ajax.reload();
  });
}
