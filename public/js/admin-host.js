// Host page: the "Test connection" button logs in over SSH (through jump hosts) and pins an unknown host key.
import { fetchJson, showAlert } from './lib/ui.js';

const button = document.getElementById('test-host');
const out = document.getElementById('host-test-result');

if (button && out) {
  const show = (kind, lines) => showAlert(out, kind, lines, { replace: true });
  button.addEventListener('click', async () => {
    button.disabled = true;
    show('info', 'Connecting…');
    try {
      const result = await fetchJson(button.getAttribute('data-url'), { method: 'POST', body: {} });
      show(result.ok ? 'success' : 'danger', [result.message, result.fingerprint ? 'Host key: ' + result.fingerprint : '']);
      const label = document.getElementById('pinned-fingerprint');
      if (label && result.pinned && result.pinned.length && result.fingerprint) label.textContent = result.fingerprint + ' (just pinned; reload to edit)';
    } catch (err) {
      show('danger', err.message);
    } finally {
      button.disabled = false;
    }
  });
}
