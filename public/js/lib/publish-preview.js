// The publish dialog's preview: asks GET /api/projects/:name/preview and lists per host the files that are new,
// changed, unchanged, or drifted (edited by hand on the host since Ferry put them there). When anything drifted the
// Publish button stays disabled until "overwrite hand edits on N hosts" is ticked.
import { el, fetchJson, showAlert, t } from './ui.js';

const TEXT = {
  checking: () => t('Checking what this publish would change on each host…'),
  failed: (error) => t('Could not check the hosts: {{error}}', { error }),
  unreachable: (error) => t('Could not be checked: {{error}}', { error }),
  kinds: {
    drifted: () => t('drifted (edited by hand)'),
    changed: () => t('changed'),
    new: () => t('new'),
    unchanged: () => t('unchanged'),
  },
  counts: {
    drifted: (n) => t('{{n}} drifted', { n }),
    changed: (n) => t('{{n}} changed', { n }),
    new: (n) => t('{{n}} new', { n }),
    unchanged: (n) => t('{{n}} unchanged', { n }),
  },
  allUnchanged: () => t('every file is already in place: this host will be skipped'),
  overwrite: (count) => t('Overwrite hand edits on {{count}} hosts', { count }),
  more: (n) => t('… and {{n}} more', { n }),
  diff: () => t('diff'),
};
const KIND_CLASS = { drifted: 'text-bg-danger', changed: 'text-bg-primary', new: 'text-bg-success', unchanged: 'text-bg-secondary' };
const SHOWN = 200;

function diffLink(project, query) {
  return el('a', { href: '/projects/' + encodeURIComponent(project) + '/diff?' + new URLSearchParams(query), target: '_blank', rel: 'noopener', class: 'ms-2 small' }, TEXT.diff());
}

function fileList(kind, items, project, host, revision, recordedRevisions) {
  if (items.length === 0) return null;
  const rows = items.slice(0, SHOWN).map((item) => {
    const path = typeof item === 'string' ? item : item.path;
    const li = el('li', { class: kind === 'drifted' ? 'text-danger fw-semibold' : '', dataset: { kind, path } }, path);
    if (kind === 'drifted') li.append(diffLink(project, { path, host }));
    const from = recordedRevisions[path];
    if (kind === 'changed' && from && revision && from !== revision) li.append(diffLink(project, { path, from: String(from), to: String(revision) }));
    return li;
  });
  if (items.length > SHOWN) rows.push(el('li', { class: 'text-secondary' }, TEXT.more(items.length - SHOWN)));
  return el('details', { open: kind === 'drifted' || kind === 'changed' || kind === 'new' ? true : null, class: 'mb-1' },
    el('summary', {}, el('span', { class: 'badge ' + KIND_CLASS[kind] }, items.length), ' ', TEXT.kinds[kind]()),
    el('ul', { class: 'list-unstyled font-monospace small ms-3 mb-1 path-list' }, rows));
}

function hostCard(host, project, preview) {
  const card = el('div', { class: 'border rounded p-2 mb-2' + (host.drifted.length ? ' border-danger' : ''), dataset: { previewHost: host.host } });
  const counts = ['drifted', 'changed', 'new', 'unchanged'].map((kind) => {
    const n = kind === 'drifted' ? host.drifted.length : host[kind].length;
    return n ? el('span', { class: 'badge me-1 ' + KIND_CLASS[kind], dataset: { count: kind } }, TEXT.counts[kind](n)) : null;
  });
  card.append(el('div', { class: 'fw-semibold font-monospace' }, host.host, ' ', counts));
  if (!host.reachable) {
    card.append(el('div', { class: 'text-warning-emphasis small' }, TEXT.unreachable(t(host.error))));
    return card;
  }
  if (host.unchanged.length === preview.fileCount && preview.fileCount > 0) card.append(el('div', { class: 'small text-secondary' }, TEXT.allUnchanged()));
  for (const kind of ['drifted', 'changed', 'new', 'unchanged']) {
    const list = fileList(kind, host[kind], project, host.host, preview.revision, host.recordedRevisions);
    if (list) card.append(list);
  }
  return card;
}

/**
 * Fills `box` with the preview of `request`; `overwrite` is the checkbox wrapper. Calls `onReady(needsTick)` once known:
 * the caller keeps Publish disabled while needsTick() is true. Returns nothing; failures are shown in the box.
 */
export async function showPublishPreview({ api, project, request, box, overwrite, onReady }) {
  const checkbox = overwrite.querySelector('input');
  const label = overwrite.querySelector('label');
  checkbox.checked = false;
  overwrite.hidden = true;
  box.replaceChildren(el('p', { class: 'text-secondary small mb-0' }, el('span', { class: 'spinner-border spinner-border-sm me-2' }), TEXT.checking()));
  const params = new URLSearchParams();
  for (const f of request.files) params.append('files', f);
  for (const x of request.exclude || []) params.append('exclude', x);
  for (const g of request.groups) params.append('groups', g);
  for (const h of request.hosts) params.append('hosts', h);
  if (request.revision) params.set('revision', String(request.revision));
  let preview;
  try {
    preview = await fetchJson(api + '/preview?' + params);
  } catch (err) {
    box.replaceChildren();
    showAlert(box, 'warning', TEXT.failed(err.message));
    return onReady(() => false);
  }
  box.replaceChildren(...preview.hosts.map((host) => hostCard(host, project, preview)));
  const drifted = preview.hosts.filter((h) => h.drifted.length > 0).length;
  if (drifted > 0) {
    label.textContent = TEXT.overwrite(drifted);
    overwrite.hidden = false;
  }
  onReady(() => drifted > 0 && !checkbox.checked);
}
