// Project page: the "Test SVN" button asks the server to read the repository with the saved settings.
import { fetchJson, showAlert } from './lib/ui.js';

const button = document.getElementById('test-svn');
const out = document.getElementById('svn-test-result');

if (button && out) {
  const show = (kind, lines) => showAlert(out, kind, lines, { replace: true });
  button.addEventListener('click', async () => {
    button.disabled = true;
    show('info', 'Testing the saved SVN settings…');
    try {
      const result = await fetchJson(button.getAttribute('data-url'), { method: 'POST', body: {} });
      show(result.ok ? 'success' : 'danger', result.message);
    } catch (err) {
      show('danger', err.message);
    } finally {
      button.disabled = false;
    }
  });
}
