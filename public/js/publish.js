// Publish page: pick a revision (or HEAD) from the SVN log, files from a lazily loaded jsTree, target groups or
// hosts, then confirm and POST /api/projects/:name/publish. Checking a folder sends the folder itself; unticking a few
// entries of a big folder sends the folder with those as exclusions.
import { el, fetchJson, fmtDate, fmtSize, html, showAlert, t } from './lib/ui.js';
import { wavesForm } from './lib/waves-form.js';
import { ROOT, TreeSelection } from './lib/tree-selection.js';
import { showPublishPreview } from './lib/publish-preview.js';

const page = document.getElementById('publish-page');
if (page) setUpPublishPage();

function setUpPublishPage() {
  const data = JSON.parse(document.getElementById('publish-data').textContent);
  const api = '/api/projects/' + encodeURIComponent(data.project);
  const pageAlerts = document.getElementById('publish-alerts');
  const logAlerts = document.getElementById('log-alerts');
  const treeAlerts = document.getElementById('tree-alerts');

  // ---- revision ----
  const revInput = document.getElementById('revision');
  const treeRevLabel = document.getElementById('tree-revision');
  /** The revision the tree shows, and so the one that gets published: 'HEAD' or a number as text. */
  let treeRevision = 'HEAD';

  function typedRevision() {
    const v = revInput.value.trim();
    if (v === '' || /^head$/i.test(v)) return 'HEAD';
    const m = /^r?(\d+)$/i.exec(v);
    return m && Number(m[1]) > 0 ? m[1] : null;
  }

  // ---- file tree ----
  const treeEl = document.getElementById('file-tree');
  const ID_PREFIX = 'svn:'; // keeps node ids (also DOM ids) apart from the page's own ids
  const MORE_PREFIX = 'more:';
  const idOf = (path) => ID_PREFIX + path;
  // Folders list PAGE entries at first, and PAGE more per "Show more"; the filter box searches a folder on the server.
  const PAGE = 200;
  const MAX_SHOWN = 2000;
  /** Per folder path: { total, size, shown, filter, entries } from its last listing; `more` asks the next load for another page. */
  const folders = new Map();

  function nodeFor(entry) {
    const meta = [entry.kind === 'file' ? fmtSize(entry.size) : '', 'r' + entry.rev, entry.author || ''].filter(Boolean).join(' · ');
    return {
      id: idOf(entry.path),
      text: String(html`${entry.name} <span class="tree-meta">${meta}</span>`),
      children: entry.kind === 'dir',
      icon: entry.kind === 'dir' ? 'bi bi-folder-fill tree-dir' : 'bi bi-file-earmark tree-file',
      data: { path: entry.path },
    };
  }

  /** The last child of a paged or filtered folder: how many entries it shows, and the way to more. */
  function moreNode(path, listing) {
    const shown = listing.entries.length;
    const what = listing.filter
      ? t('Showing {{shown}} of {{total}} matching "{{filter}}" ({{size}} in the folder)', { shown, total: listing.total, filter: listing.filter, size: listing.size })
      : t('Showing {{shown}} of {{total}}', { shown, total: listing.total });
    const next = shown < listing.total && shown < MAX_SHOWN ? t('show more') : listing.total > shown ? t('type in the filter to find the others') : '';
    return {
      id: MORE_PREFIX + path, icon: 'bi bi-three-dots', li_attr: { class: 'tree-more' }, state: { disabled: true },
      text: String(html`<span class="tree-more-text">${what}</span>${next ? html` · <span class="tree-more-action">${next}</span>` : ''}`),
      data: { more: path },
    };
  }

  $(treeEl).jstree({
    core: {
      // Workers are built from blob: URLs, which the Content-Security-Policy forbids; big folders parse fine inline.
      worker: false,
      animation: 0,
      multiple: true,
      themes: { dots: false },
      data: function (node, done) {
        if (node.id === '#') {
          return done.call(this, [{
            id: idOf(ROOT), text: String(html`${data.project} <span class="tree-meta">${t('whole project')}</span>`), children: true,
            state: { opened: true }, icon: 'bi bi-box-seam', data: { path: ROOT },
          }]);
        }
        const path = node.data.path === ROOT ? '' : node.data.path;
        const rev = treeRevision;
        // "Show more" asks for the next page only and adds it to the entries already listed.
        const known = folders.get(node.data.path);
        const more = known && known.more ? known.entries : [];
        const query = new URLSearchParams({ path, rev, offset: String(more.length), limit: String(PAGE) });
        if (known && known.filter) query.set('filter', known.filter);
        fetchJson(api + '/tree?' + query)
          .then((listing) => {
            if (rev !== treeRevision) return done.call(this, false);
            const entries = more.concat(listing.entries);
            folders.set(node.data.path, { total: listing.total, size: listing.size, shown: entries.length, filter: listing.filter, entries, more: false });
            const nodes = entries.map(nodeFor);
            if (listing.filter || listing.total > entries.length) nodes.push(moreNode(node.data.path, { ...listing, entries }));
            done.call(this, nodes);
          })
          .catch((err) => {
            showAlert(treeAlerts, 'danger', path ? t('Could not list "{{path}}": {{error}}', { path, error: err.message }) : t('Could not list the project: {{error}}', { error: err.message }));
            done.call(this, false);
          });
      },
      error: function () { /* shown by the data callback */ },
    },
    // jsTree only shows the ticks: TreeSelection (lib/tree-selection.js) decides them, so that ticking or unticking
    // inside a folder of 20,000 files costs the same as in a folder of two, and a folder ticked with a few entries
    // unticked travels as "this folder except these".
    checkbox: { three_state: false, cascade: '', keep_selected_style: false },
    plugins: ['checkbox'],
  });
  const tree = $(treeEl).jstree(true);

  const pathOf = (node) => (node && node.data && typeof node.data.path === 'string' ? node.data.path : null);
  const selection = new TreeSelection({
    childrenOf(path) {
      const node = tree.get_node(idOf(path));
      return node ? node.children.map((id) => pathOf(tree.get_node(id))).filter((p) => p !== null) : [];
    },
    isComplete(path) {
      const node = tree.get_node(idOf(path));
      const listing = folders.get(path);
      return Boolean(node && tree.is_loaded(node) && listing && !listing.filter && listing.shown >= listing.size);
    },
  });

  /** Shows the selection's ticks on `node`, what is loaded below it and the folders above it. */
  function showTicks(node) {
    const ids = [node.id, ...(node.children_d || []), ...(node.parents || []).filter((id) => id !== '#')];
    for (const id of ids) {
      const one = tree.get_node(id);
      const path = pathOf(one);
      if (path === null) continue;
      const ticked = selection.isTicked(path);
      const partial = ticked && tree.is_parent(one) && selection.isPartial(path);
      one.state.selected = ticked;
      const dom = tree.get_node(one, true);
      if (dom && dom.length) {
        dom.children('.jstree-anchor').attr('aria-selected', ticked).toggleClass('jstree-clicked', ticked).toggleClass('tree-partial', partial);
      }
    }
    // jsTree's own list of selected ids (private, jsTree pinned in package.json): get_selected and deselect_all read it,
    // so it must agree with the ticks shown.
    tree._data.core.selected = Object.keys(tree._model.data).filter((id) => tree._model.data[id].state.selected);
    updateSummary();
  }

  // A click has already ticked or unticked the one node in jsTree; the selection decides what that means below and above.
  $(treeEl).on('select_node.jstree', (ev, info) => {
    const path = pathOf(info.node);
    if (path === null) return;
    selection.tick(path);
    showTicks(info.node);
  });
  $(treeEl).on('deselect_node.jstree', (ev, info) => {
    const path = pathOf(info.node);
    if (path === null) return;
    selection.untick(path);
    showTicks(info.node);
  });
  $(treeEl).on('load_node.jstree', (ev, info) => {
    if (info.status && info.node.id !== '#') showTicks(info.node);
    if (info.status) showFolderTools(info.node);
  });

  /** Opens (and if needed loads) a folder node; resolves when its children are in the tree. */
  function openNode(node) {
    return new Promise((resolve) => {
      if (tree.is_open(node) && tree.is_loaded(node)) return resolve(true);
      tree.open_node(node, () => resolve(tree.is_loaded(node)));
    });
  }

  function reloadTree(rev) {
    treeRevision = rev;
    treeRevLabel.textContent = rev === 'HEAD' ? 'HEAD' : 'r' + rev;
    treeAlerts.replaceChildren();
    folders.clear();
    selection.clear();
    hideFolderTools();
    return new Promise((resolve) => {
      $(treeEl).one('refresh.jstree', () => openNode(tree.get_node(idOf(ROOT))).then(resolve));
      tree.refresh(false, true);
    });
  }

  // ---- big folders: show more, filter ----
  const tools = document.getElementById('folder-tools');
  const toolsName = document.getElementById('folder-tools-name');
  const filterInput = document.getElementById('folder-filter');
  /** The paged folder the filter box searches: the one opened or paged last. */
  let toolsFor = null;

  function showFolderTools(node) {
    const path = pathOf(node);
    const listing = path === null ? null : folders.get(path);
    if (!listing || (listing.size <= PAGE && !listing.filter)) return;
    toolsFor = path;
    toolsName.textContent = t('{{name}} ({{size}} entries)', { name: path === ROOT ? data.project : path, size: listing.size });
    if (document.activeElement !== filterInput) filterInput.value = listing.filter || '';
    tools.hidden = false;
  }
  function hideFolderTools() {
    toolsFor = null;
    tools.hidden = true;
    filterInput.value = '';
  }
  function relist(path, change) {
    const node = tree.get_node(idOf(path));
    const listing = folders.get(path);
    if (!node || !listing) return;
    Object.assign(listing, change);
    tree.refresh_node(node);
  }
  let filterTimer = null;
  filterInput.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      if (toolsFor !== null) relist(toolsFor, { filter: filterInput.value.trim() || null, more: false });
    }, 250);
  });
  // Capture phase: jsTree never sees a click on the "Showing 200 of 20,000" line.
  treeEl.addEventListener('click', (ev) => {
    const more = ev.target.closest('li.tree-more');
    if (!more) return;
    ev.stopPropagation();
    ev.preventDefault();
    const path = tree.get_node(more.id).data.more;
    const listing = folders.get(path);
    if (ev.target.closest('.tree-more-action') && listing && listing.shown < listing.total && listing.shown < MAX_SHOWN) {
      relist(path, { more: true });
    } else {
      showFolderTools(tree.get_node(idOf(path)));
      filterInput.focus();
    }
  }, true);

  const summaryEl = document.getElementById('selection-summary');
  let summaryPending = false;
  function updateSummary() {
    if (summaryPending) return;
    summaryPending = true;
    requestAnimationFrame(() => {
      summaryPending = false;
      const { files, exclude } = selection.request();
      const except = exclude.length ? t(', except {{n}} left out', { n: exclude.length }) : '';
      summaryEl.textContent = files.length === 0 ? t('Nothing selected')
        : files.includes(ROOT) ? t('The whole project') + except : t('{{count}} paths selected', { count: files.length }) + except;
    });
  }
  document.getElementById('selection-clear').addEventListener('click', () => {
    selection.clear();
    tree.deselect_all(true);
    showTicks(tree.get_node(idOf(ROOT)));
  });

  /** Ticks one project-relative path, loading the folders above it; false if it is not in the tree. */
  async function checkPath(path) {
    const root = tree.get_node(idOf(ROOT));
    if (!root || selection.isTicked(ROOT)) return Boolean(root);
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (selection.isTicked(dir)) return true;
      const node = tree.get_node(idOf(dir));
      if (!node) return pagedHides(parts.slice(0, i - 1).join('/') || ROOT, path);
      if (!(await openNode(node))) return false;
    }
    const node = tree.get_node(idOf(path));
    if (!node) return pagedHides(parts.slice(0, -1).join('/') || ROOT, path);
    selection.tick(path);
    showTicks(node);
    return true;
  }
  /** A path not loaded in a paged folder is ticked all the same (the publish checks that it exists). */
  function pagedHides(folder, path) {
    const listing = folders.get(folder);
    if (!listing || listing.shown >= listing.total) return false;
    selection.tick(path);
    showTicks(tree.get_node(idOf(folder)));
    return true;
  }

  async function selectChangedIn(entry) {
    revInput.value = String(entry.revision);
    await reloadTree(String(entry.revision));
    // Paths outside the project start with '/'; '' is the project folder itself (a property change); deletions cannot be published.
    const paths = entry.paths.filter((p) => p.action !== 'D' && p.path !== '' && !p.path.startsWith('/')).map((p) => p.path);
    let missing = 0;
    for (const path of paths) if (!(await checkPath(path))) missing++;
    if (paths.length === 0) showAlert(treeAlerts, 'info', t('r{{rev}} changed nothing inside this project that can be published (only deletions or paths outside it).', { rev: entry.revision }));
    else if (missing) showAlert(treeAlerts, 'warning', t('{{missing}} of the {{total}} changed path(s) are not in the tree at r{{rev}}.', { missing, total: paths.length, rev: entry.revision }));
  }

  // ---- log ----
  const logById = new Map();
  const PATHS_SHOWN = 50;
  const logOptions = {
    pageLength: 10, lengthChange: false, autoWidth: false, order: [[0, 'desc']],
    language: { emptyTable: t('No commits touch this project.') },
    columns: [
      { data: 'revision', render: (v, type) => (type === 'display' ? 'r' + v : v) },
      { data: 'author', render: (v) => String(html`${v}`) },
      { data: 'date', className: 'text-nowrap small', render: (v) => fmtDate(v) },
      { data: 'message', render: (v, type) => (type === 'display' ? String(html`<span class="log-message" title="${v}">${v.split('\n')[0].slice(0, 120)}</span>`) : v) },
      {
        data: 'paths', orderable: false, render: (paths, type) => {
          if (type !== 'display') return paths.map((p) => p.path).join(' ');
          const items = paths.slice(0, PATHS_SHOWN).map((p) => html`<li><span class="path-action">${p.action}</span> ${p.path || t('(project folder)')}</li>`);
          const more = paths.length > PATHS_SHOWN ? html`<li class="text-secondary">${t('… and {{n}} more', { n: paths.length - PATHS_SHOWN })}</li>` : '';
          return String(html`<details><summary>${paths.length}</summary><ul class="list-unstyled font-monospace small mb-0 path-list">${items}${more}</ul></details>`);
        },
      },
      {
        data: 'revision', orderable: false, searchable: false, className: 'text-end text-nowrap', render: (v, type) => (type !== 'display' ? '' : String(html`<div class="btn-group btn-group-sm">` +
          html`<button type="button" class="btn btn-outline-primary log-use" data-rev="${v}" title="${t('Show the files at r{{rev}}', { rev: v })}">${t('Use')}</button>` +
          html`<button type="button" class="btn btn-outline-secondary log-changed" data-rev="${v}" title="${t('Select the files changed in r{{rev}}', { rev: v })}">${t('Changed files')}</button></div>`)),
      },
    ],
  };

  const logStatus = document.getElementById('log-status');
  fetchJson(api + '/log?limit=50')
    .then((entries) => {
      entries.forEach((e) => logById.set(e.revision, e));
      logStatus.remove();
      new DataTable('#log-table', Object.assign({ data: entries }, logOptions));
    })
    .catch((err) => {
      logStatus.textContent = t('The log could not be read.');
      showAlert(logAlerts, 'danger', t('Could not read the SVN log: {{error}}', { error: err.message }));
    });

  document.getElementById('log-table').addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-rev]');
    if (!button) return;
    const entry = logById.get(Number(button.getAttribute('data-rev')));
    if (!entry) return;
    if (button.classList.contains('log-changed')) selectChangedIn(entry);
    else {
      revInput.value = String(entry.revision);
      reloadTree(String(entry.revision));
    }
  });

  document.getElementById('revision-head').addEventListener('click', () => {
    revInput.value = '';
    reloadTree('HEAD');
  });
  function applyTypedRevision() {
    const rev = typedRevision();
    if (rev === null) return showAlert(pageAlerts, 'warning', t('The revision must be a positive whole number, or empty for HEAD.'));
    if (rev !== treeRevision) reloadTree(rev);
  }
  document.getElementById('revision-apply').addEventListener('click', applyTypedRevision);
  revInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      applyTypedRevision();
    }
  });

  // ---- targets ----
  const groupChecks = Array.from(document.querySelectorAll('.group-check'));
  const groupsByName = new Map(data.groups.map((g) => [g.name, g.hosts]));
  const chosenHosts = new Set();
  let viaGroups = new Set();
  const targetSummary = document.getElementById('target-summary');

  const checkedGroups = () => groupChecks.filter((c) => c.checked).map((c) => c.value);
  function effectiveHosts() {
    return Array.from(new Set([...viaGroups, ...chosenHosts])).sort();
  }
  function updateTargetSummary() {
    const n = effectiveHosts().length;
    targetSummary.textContent = n === 0 ? t('No hosts selected') : t('{{count}} hosts selected', { count: n });
  }

  const hostsTableEl = document.getElementById('hosts-table');
  const hostsTable = hostsTableEl && new DataTable(hostsTableEl, {
    data: data.hosts, pageLength: 25, autoWidth: false, order: [[1, 'asc']],
    columns: [
      {
        data: 'name', orderable: false, searchable: false, render: (name, type) => {
          if (type !== 'display') return chosenHosts.has(name) || viaGroups.has(name) ? 1 : 0;
          const via = viaGroups.has(name);
          return String(html`<input type="checkbox" class="form-check-input host-check" value="${name}" aria-label="${t('Publish to {{name}}', { name })}"` +
            html`${via || chosenHosts.has(name) ? html` checked` : ''}${via ? html` disabled title="${t('Included by a checked group')}"` : ''}>`);
        },
      },
      { data: 'name', className: 'font-monospace', render: (v) => String(html`${v}`) },
      { data: 'address', className: 'small', render: (v) => String(html`${v}`) },
      { data: 'groups', render: (g, type) => (type === 'display' ? g.map((n) => String(html`<span class="badge text-bg-light">${n}</span>`)).join(' ') : g.join(' ')) },
      {
        data: 'lastRevision', className: 'dt-left', render: (rev, type, row) => {
          if (type === 'sort' || type === 'type') return row.lastJobId ? (rev ?? 0) : -1;
          if (!row.lastJobId) return type === 'display' ? String(html`<span class="text-secondary">${t('never')}</span>`) : t('never');
          const label = rev ? 'r' + rev : 'HEAD';
          return type === 'display' ? String(html`<a href="/jobs/${row.lastJobId}">${label}</a> <span class="small text-secondary">${fmtDate(row.lastAt)}</span>`) : label;
        },
      },
    ],
    createdRow: (tr, row) => tr.setAttribute('data-host', row.name),
  });
  const redrawHosts = () => hostsTable && hostsTable.rows().invalidate('data').draw(false);

  groupChecks.forEach((check) => check.addEventListener('change', () => {
    viaGroups = new Set(checkedGroups().flatMap((g) => groupsByName.get(g) || []));
    redrawHosts();
    updateTargetSummary();
  }));
  if (hostsTableEl) {
    hostsTableEl.addEventListener('change', (ev) => {
      if (!ev.target.classList.contains('host-check')) return;
      if (ev.target.checked) chosenHosts.add(ev.target.value);
      else chosenHosts.delete(ev.target.value);
      updateTargetSummary();
    });
    document.getElementById('hosts-select-shown').addEventListener('click', () => {
      hostsTable.rows({ search: 'applied' }).data().toArray().forEach((h) => chosenHosts.add(h.name));
      redrawHosts();
      updateTargetSummary();
    });
    document.getElementById('hosts-clear').addEventListener('click', () => {
      chosenHosts.clear();
      redrawHosts();
      updateTargetSummary();
    });
  }

  // ---- confirm and publish ----
  const modalEl = document.getElementById('publish-modal');
  const errorBox = document.getElementById('publish-error');
  const submit = document.getElementById('publish-submit');
  const LIST_LIMIT = 500;
  let request = null;

  /** <li> elements for the first LIST_LIMIT items, and one saying how many more there are. */
  function listItems(items, className) {
    const shown = items.slice(0, LIST_LIMIT).map((item) => el('li', { class: className }, item));
    return items.length > LIST_LIMIT ? shown.concat(el('li', { class: 'text-secondary' }, t('… and {{n}} more', { n: items.length - LIST_LIMIT }))) : shown;
  }

  const readWaves = wavesForm();
  document.getElementById('publish-review').addEventListener('click', () => {
    pageAlerts.replaceChildren();
    const typed = typedRevision();
    if (typed === null) return showAlert(pageAlerts, 'warning', t('The revision must be a positive whole number, or empty for HEAD.'));
    if (typed !== treeRevision) {
      return showAlert(pageAlerts, 'warning', t('The files shown are from {{shown}}, but the revision box says {{typed}}. Click "Show files" and choose the files at that revision first.', {
        shown: treeRevision === 'HEAD' ? 'HEAD' : 'r' + treeRevision, typed: typed === 'HEAD' ? 'HEAD' : 'r' + typed,
      }));
    }
    const { files, exclude } = selection.request();
    if (files.length === 0) return showAlert(pageAlerts, 'warning', t('Choose at least one file or folder to publish.'));
    const hosts = effectiveHosts();
    if (hosts.length === 0) return showAlert(pageAlerts, 'warning', t('Choose at least one host group or host to publish to.'));

    const groups = checkedGroups();
    const waves = readWaves(groups);
    if (waves?.problem) return showAlert(pageAlerts, 'warning', waves.problem);
    request = {
      files, ...(exclude.length ? { exclude } : {}), groups, hosts: Array.from(chosenHosts).filter((h) => !viaGroups.has(h)).sort(),
      ...(treeRevision === 'HEAD' ? {} : { revision: Number(treeRevision) }),
      ...(waves ? { waves: waves.waves } : {}),
    };
    document.querySelectorAll('.confirm-waves').forEach((e) => e.classList.toggle('d-none', !waves));
    document.getElementById('confirm-waves').textContent = waves ? waves.summary : '';
    document.getElementById('confirm-revision').textContent = treeRevision === 'HEAD' ? t('HEAD (the newest revision when the publish starts)') : 'r' + treeRevision;
    const except = exclude.length ? t(', except the {{n}} path(s) left out', { n: exclude.length }) : '';
    document.getElementById('confirm-files-count').textContent = (files.includes(ROOT) ? t('The whole project') : t('{{n}} path(s); a folder includes everything below it', { n: files.length })) + except;
    document.getElementById('confirm-files').replaceChildren(...(files.includes(ROOT) ? [] : listItems(files)),
      ...listItems(exclude.map((p) => t('except {{path}}', { path: p })), 'text-secondary confirm-exclude'));
    document.getElementById('confirm-hosts-count').textContent = groups.length
      ? t('{{n}} host(s), including group(s) {{groups}}', { n: hosts.length, groups: groups.join(', ') })
      : t('{{n}} host(s)', { n: hosts.length });
    document.getElementById('confirm-hosts').replaceChildren(el('ul', { class: 'list-inline mb-0 font-monospace' }, listItems(hosts, 'list-inline-item')));
    errorBox.replaceChildren();
    submit.disabled = true;
    bootstrap.Modal.getOrCreateInstance(modalEl).show();
    const shown = request;
    showPublishPreview({
      api, project: data.project, request, box: document.getElementById('confirm-preview'), overwrite: overwriteBox,
      onReady: (needsTick) => {
        if (request !== shown) return;
        blockedByDrift = needsTick;
        submit.disabled = blockedByDrift();
      },
    });
  });
  const overwriteBox = document.getElementById('confirm-overwrite');
  let blockedByDrift = () => true;
  overwriteBox.querySelector('input').addEventListener('change', () => (submit.disabled = blockedByDrift()));

  submit.addEventListener('click', async () => {
    if (!request) return;
    submit.disabled = true;
    errorBox.replaceChildren();
    try {
      const note = document.getElementById('publish-note').value.trim();
      const overwriteDrift = document.getElementById('overwrite-drift').checked;
      const result = await fetchJson(api + '/publish', { method: 'POST', body: Object.assign({}, request, note ? { note } : {}, overwriteDrift ? { overwriteDrift } : {}) });
      window.location.assign('/jobs/' + result.jobId);
    } catch (err) {
      showAlert(errorBox, 'danger', err.message);
      submit.disabled = blockedByDrift();
    }
  });

  updateTargetSummary();
}
