// Operation log: server-side DataTable whose filters are sent with every request and reused for CSV export.
import { fmtDate, html, statusBadgeHtml } from './lib/ui.js';

const form = document.getElementById('oplog-filter');

if (form) {
  const filters = () => Object.fromEntries(new FormData(form).entries());
  const text = (v) => String(html`${v}`);
  const table = new DataTable('#oplog-table', {
    serverSide: true, processing: true, pageLength: 50, order: [[0, 'desc']], searchDelay: 300,
    ajax: { url: '/oplog/data', data: (d) => Object.assign(d, filters()) },
    columns: [
      { data: 'at', render: (v) => text(fmtDate(v)) },
      { data: 'userName', render: text }, { data: 'ip', render: text }, { data: 'action', render: text },
      { data: 'project', render: text },
      { data: 'target', render: (v, _t, row) => String(row.jobId ? html`<a href="/jobs/${row.jobId}">${v || 'job #' + row.jobId}</a>` : html`${v}`) },
      { data: 'result', render: (v) => String(statusBadgeHtml(v)) },
      { data: 'detail', render: text, orderable: false },
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
}
