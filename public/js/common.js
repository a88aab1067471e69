// Behaviour of every page: client-side DataTables on the small lists, and confirmation prompts (data-confirm).
import './lib/i18n.js';

// Server-side lists set data-server-side and are set up by their own page module.
document.querySelectorAll('table.datatable:not([data-server-side])').forEach((table) => {
  new DataTable(table, { pageLength: 25, order: [], stateSave: true });
});

// Forms with data-confirm ask before they submit.
document.addEventListener('submit', (ev) => {
  const message = ev.target.getAttribute && ev.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) ev.preventDefault();
});

// The language switch in the navigation bar applies on change.
document.getElementById('lang-select')?.addEventListener('change', (ev) => ev.target.form.submit());
