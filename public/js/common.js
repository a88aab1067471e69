// Behaviour of every page: client-side DataTables on the small lists, and confirmation prompts (data-confirm).

// Server-side lists set data-server-side and are set up by their own page module.
document.querySelectorAll('table.datatable:not([data-server-side])').forEach((table) => {
  new DataTable(table, { pageLength: 25, order: [], stateSave: true });
});

// Forms with data-confirm ask before they submit.
document.addEventListener('submit', (ev) => {
  const message = ev.target.getAttribute && ev.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) ev.preventDefault();
});
