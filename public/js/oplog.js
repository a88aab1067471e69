// Operation log: server-side DataTable whose filters are sent with every request and reused for CSV export.
// Actions stay codes in the data (the filter and the search match them); the table and the action filter show a
// label in the user's language for the codes listed below, with the code itself next to it.
import { html, lang, statusBadgeHtml, t } from './lib/ui.js';

/** Known operation-log action codes and what they read as. Codes not listed are shown as they are. */
const ACTION_LABELS = {
  login: t('Sign in'),
  logout: t('Sign out'),
  access: t('Open a page'),
  'config.import': t('Bulk import'),
  'token.create': t('Create API token'),
  'token.revoke': t('Revoke API token'),
  'token.use': t('Use API token'),
  'user.create': t('Create user'),
  'user.update': t('Edit user'),
  'user.delete': t('Delete user'),
  'user.password': t('Reset password'),
  'user.locale': t('Change language'),
  'grant.update': t('Change permissions'),
  'host.create': t('Add host'),
  'host.update': t('Edit host'),
  'host.delete': t('Delete host'),
  'host.test': t('Test host connection'),
  'host.pin-key': t('Accept host key'),
  'host.clear-key': t('Forget host key'),
  'credential.create': t('Add credential'),
  'credential.update': t('Edit credential'),
  'credential.delete': t('Delete credential'),
  'project.create': t('Create project'),
  'project.update': t('Edit project'),
  'project.delete': t('Delete project'),
  'project.view': t('View project'),
  'project.test-svn': t('Test SVN access'),
  'group.create': t('Add host group'),
  'group.update': t('Edit host group'),
  'group.delete': t('Delete host group'),
  'process.create': t('Add process'),
  'process.update': t('Edit process'),
  'process.delete': t('Delete process'),
  'hook.create': t('Add hook script'),
  'hook.update': t('Edit hook script'),
  'hook.delete': t('Delete hook script'),
  'notify.create': t('Add notification channel'),
  'notify.update': t('Edit notification channel'),
  'notify.delete': t('Delete notification channel'),
  'notify.test': t('Test notification channel'),
  'job.view': t('View job'),
  'job.approve': t('Approve request'),
  'job.reject': t('Reject request'),
  'job.cancel': t('Cancel request'),
  'publish.preview': t('Preview publish'),
  'publish.start': t('Start publish'),
  'publish.stop': t('Stop publish'),
  'publish.continue': t('Continue publish'),
  'publish.overwrite-drift': t('Publish over hand edits'),
  'publish.finish': t('Publish finished'),
  'publish.interrupted': t('Publish interrupted'),
  'publish.host-refused': t('Host refused for publish'),
  'publish.request': t('Request publish'),
  'publish.approve': t('Approve publish'),
  'publish.reject': t('Reject publish'),
  'publish.cancel': t('Cancel publish request'),
  'publish.expire': t('Publish request expired'),
  'rollback.start': t('Start rollback'),
  'rollback.finish': t('Rollback finished'),
  'rollback.interrupted': t('Rollback interrupted'),
  'rollback.host-refused': t('Host refused for rollback'),
  'rollback.request': t('Request rollback'),
  'rollback.approve': t('Approve rollback'),
  'rollback.reject': t('Reject rollback'),
  'rollback.cancel': t('Cancel rollback request'),
  'rollback.expire': t('Rollback request expired'),
  'process.start': t('Start processes'),
  'process.stop': t('Stop processes'),
  'process.restart': t('Restart processes'),
  'process.status': t('Check process status'),
  'process.finish': t('Process action finished'),
  'process.interrupted': t('Process action interrupted'),
  'process.host-refused': t('Host refused for process action'),
  'process.request': t('Request process action'),
  'process.approve': t('Approve process action'),
  'process.reject': t('Reject process action'),
  'process.cancel': t('Cancel process action request'),
  'process.expire': t('Process action request expired'),
  'drift.start': t('Start drift check'),
  'drift.finish': t('Drift check finished'),
  'drift.interrupted': t('Drift check interrupted'),
};

/** The label of an action code in the user's language; the code itself in English or when unknown. */
export function actionLabel(code) {
  return lang !== 'en' && Object.hasOwn(ACTION_LABELS, code) ? ACTION_LABELS[code] : code;
}

// Operation-log times are UTC (as the date filters and the CSV export), written the way the user's language does.
const utcDateTime = new Intl.DateTimeFormat(lang, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: 'UTC',
});
const fmtUtc = (value) => {
  const date = new Date(value);
  return value && !Number.isNaN(date.getTime()) ? utcDateTime.format(date) : '';
};

const form = globalThis.document?.getElementById('oplog-filter');

if (form) {
  const filters = () => Object.fromEntries(new FormData(form).entries());
  const text = (v) => String(html`${v}`);
  const actionHtml = (code) => {
    const label = actionLabel(code);
    return String(label === code ? html`${code}` : html`${label}<div class="small text-secondary font-monospace">${code}</div>`);
  };
  // The action filter keeps the codes as values; its options read as labels (with the code) where one is known.
  for (const option of form.elements.action?.options ?? []) {
    if (option.value && actionLabel(option.value) !== option.value) option.textContent = `${actionLabel(option.value)} (${option.value})`;
  }
  const table = new DataTable('#oplog-table', {
    serverSide: true, processing: true, pageLength: 50, order: [[0, 'desc']], searchDelay: 300,
    ajax: { url: '/oplog/data', data: (d) => Object.assign(d, filters()) },
    columns: [
      { data: 'at', type: 'string', className: 'text-nowrap', render: (v) => text(fmtUtc(v)) },
      { data: 'userName', render: text }, { data: 'ip', render: text }, { data: 'action', render: actionHtml },
      { data: 'project', render: text },
      { data: 'target', render: (v, _t, row) => String(row.jobId ? html`<a href="/jobs/${row.jobId}">${v || t('job #{{id}}', { id: row.jobId })}</a>` : html`${v}`) },
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
