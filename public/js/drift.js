// Dashboard: "Check drift" starts a drift check of the project's hosts (POST /api/projects/:name/drift) and opens its job.
import { fetchJson, t } from './lib/ui.js';

const TEXT = { failed: (error) => t('Could not start the drift check: {{error}}', { error }) };

for (const button of document.querySelectorAll('[data-drift-check]')) {
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const started = await fetchJson('/api/projects/' + encodeURIComponent(button.dataset.driftCheck) + '/drift', { method: 'POST', body: {} });
      window.location.assign('/jobs/' + started.jobId);
    } catch (err) {
      button.disabled = false;
      window.alert(TEXT.failed(err.message));
    }
  });
}
