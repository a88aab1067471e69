// Project page: the "Test SVN" button asks the server to read the repository with the saved settings.
(function () {
  'use strict';
  const button = document.getElementById('test-svn');
  const out = document.getElementById('svn-test-result');
  if (!button || !out) return;

  function show(kind, text) {
    const alert = document.createElement('div');
    alert.className = 'alert alert-' + kind + ' alert-dismissible fade show';
    alert.setAttribute('role', 'alert');
    alert.textContent = text;
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'btn-close';
    close.setAttribute('data-bs-dismiss', 'alert');
    close.setAttribute('aria-label', 'Close');
    alert.appendChild(close);
    out.replaceChildren(alert);
  }

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
