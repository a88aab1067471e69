// Job history: server-side DataTable (paging, search, sort and filters run in SQL); a row opens its job.
(function () {
  'use strict';
  const form = document.getElementById('history-filter');
  const tableEl = document.getElementById('history-table');
  if (!form || !tableEl) return;
  const filters = () => Object.fromEntries(new FormData(form).entries());
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const badge = { succeeded: 'success', running: 'primary', queued: 'secondary', failed: 'danger', partial: 'warning', interrupted: 'dark' };
  function fmtDuration(ms) {
    if (ms == null) return '';
    if (ms < 1000) return ms + ' ms';
    const s = Math.round(ms / 1000);
    return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  }

  const table = new DataTable(tableEl, {
    serverSide: true, processing: true, pageLength: 25, order: [[0, 'desc']], searchDelay: 300,
    ajax: { url: '/jobs/data', data: (d) => Object.assign(d, filters()) },
    columns: [
      { data: 'id', render: (v) => '<a href="/jobs/' + Number(v) + '">#' + Number(v) + '</a>' },
      { data: 'createdAt', className: 'text-nowrap', render: (v) => esc(v.replace('T', ' ').slice(0, 19)) },
      { data: 'userName', render: esc },
      { data: 'kind', render: (v, _t, row) => esc(v) + (row.detail ? ' <span class="small text-secondary">' + esc(row.detail) + '</span>' : '') },
      { data: 'project', render: esc },
      { data: 'revision', render: (v) => (v ? 'r' + Number(v) : '') },
      { data: 'files', orderable: false },
      { data: 'hosts' },
      { data: 'status', render: (v) => '<span class="badge text-bg-' + (badge[v] || 'secondary') + '">' + esc(v) + '</span>' },
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
    if (tr) window.location.assign('/jobs/' + tr.getAttribute('data-job-id'));
  });

  // Keep the address in step with the filters, so a filtered history can be bookmarked or shared.
  form.addEventListener('change', () => {
    const params = new URLSearchParams(Object.entries(filters()).filter((e) => e[1]));
    window.history.replaceState(null, '', '/jobs' + (params.toString() ? '?' + params : ''));
    table.ajax.reload();
  });
})();
