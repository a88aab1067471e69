// Project page: the "Test SVN" button asks the server to read the repository with the saved settings.
(function () {
  'use strict';
  const button = document.getElementById('test-svn');
  const out = document.getElementById('svn-test-result');
  if (!button || !out) return;

  const show = (kind, lines) => window.ferryAlert(out, kind, lines);

  button.addEventListener('click', async function () {
    button.disabled = true;
    show('info', 'Testing the saved SVN settings…');
    try {
      const result = await window.ferryFetch(button.getAttribute('data-url'), { method: 'POST', body: {} });
      show(result.ok ? 'success' : 'danger', result.message);
    } catch (err) {
      show('danger', err.message);
    } finally {
      button.disabled = false;
    }
  });
})();
