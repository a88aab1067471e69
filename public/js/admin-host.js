// Host page: the "Test connection" button logs in over SSH (through jump hosts) and pins an unknown host key.
(function () {
  'use strict';
  const button = document.getElementById('test-host');
  const out = document.getElementById('host-test-result');
  if (!button || !out) return;

  const show = (kind, lines) => window.ferryAlert(out, kind, lines);

  button.addEventListener('click', async function () {
    button.disabled = true;
    show('info', ['Connecting…']);
    try {
      const result = await window.ferryFetch(button.getAttribute('data-url'), { method: 'POST', body: {} });
      show(result.ok ? 'success' : 'danger', [result.message, result.fingerprint ? 'Host key: ' + result.fingerprint : '']);
      const label = document.getElementById('pinned-fingerprint');
      if (label && result.pinned && result.pinned.length && result.fingerprint) label.textContent = result.fingerprint + ' (just pinned; reload to edit)';
    } catch (err) {
      show('danger', [err.message]);
    } finally {
      button.disabled = false;
    }
  });
})();
