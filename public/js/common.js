// Shared page behaviour: DataTables on every list, CSRF-aware fetch, confirmation prompts.
/* exported ferryFetch */
(function () {
  'use strict';
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') || '';

  // Client-side DataTables for small lists (server-side lists set data-server-side and their own script).
  document.querySelectorAll('table.datatable:not([data-server-side])').forEach(function (table) {
    new DataTable(table, { pageLength: 25, order: [], stateSave: true });
  });

  // Forms and buttons with data-confirm ask before they act.
  document.addEventListener('submit', function (ev) {
    const msg = ev.target.getAttribute && ev.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  /** Puts a dismissible Bootstrap alert into `container`: first line as text, further lines small and monospace. */
  window.ferryAlert = function (container, kind, lines) {
    const alert = document.createElement('div');
    alert.className = 'alert alert-' + kind + ' alert-dismissible fade show';
    alert.setAttribute('role', 'alert');
    [].concat(lines).filter(Boolean).forEach(function (line, i) {
      const p = document.createElement('div');
      if (i > 0) p.className = 'small font-monospace mt-1';
      p.textContent = line;
      alert.appendChild(p);
    });
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'btn-close';
    close.setAttribute('data-bs-dismiss', 'alert');
    close.setAttribute('aria-label', 'Close');
    alert.appendChild(close);
    container.replaceChildren(alert);
  };

  // JSON fetch with the CSRF header; rejects with the server's plain message.
  window.ferryFetch = async function (url, options) {
    const opts = Object.assign({ credentials: 'same-origin', headers: {} }, options || {});
    opts.headers = Object.assign({ 'x-csrf-token': csrf, Accept: 'application/json' }, opts.headers);
    if (opts.body && typeof opts.body !== 'string' && !(opts.body instanceof FormData)) {
      opts.body = JSON.stringify(opts.body);
      opts.headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(url, opts);
    const data = await res.json().catch(function () { return {}; });
    if (!res.ok) throw new Error(data.error || ('Request failed with status ' + res.status));
    return data;
  };
})();
