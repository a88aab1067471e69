// Operation log: server-side DataTable whose filters are sent with every request and reused for CSV export.
(function () {
  'use strict';
  const form = document.getElementById('oplog-filter');
  const filters = () => Object.fromEntries(new FormData(form).entries());
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const badge = { ok: 'success', failed: 'danger', denied: 'warning' };
  const table = new DataTable('#oplog-table', {
    serverSide: true, processing: true, pageLength: 50, order: [[0, 'desc']], searchDelay: 300,
    ajax: { url: '/oplog/data', data: (d) => Object.assign(d, filters()) },
    columns: [
      { data: 'at', render: (v) => esc(v.replace('T', ' ').slice(0, 19)) },
      { data: 'userName', render: esc }, { data: 'ip', render: esc }, { data: 'action', render: esc },
      { data: 'project', render: esc },
      { data: 'target', render: (v, _t, row) => row.jobId ? `<a href="/jobs/${row.jobId}">${esc(v || 'job #' + row.jobId)}</a>` : esc(v) },
      { data: 'result', render: (v) => `<span class="badge text-bg-${badge[v] || 'secondary'}">${esc(v)}</span>` },
      { data: 'detail', render: esc, orderable: false },
    ],
  });
  const exportLink = document.getElementById('export-csv');
  const syncExport = () => {
    const params = new URLSearchParams(filters());
    const q = table.search();
    if (q) params.set('search', q);
    exportLink.href = '/oplog/export.csv?' + params.toString();
  };
  form.addEventListener('change', () => { table.ajax.reload(); syncExport(); });
  table.on('search.dt', syncExport);
  syncExport();
})();
