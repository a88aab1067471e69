// The job page's approval panel (views/pages/jobs/_approval.ejs): approve, reject with a reason, or cancel a request.
// Each button calls the API and reloads the page, which then shows the running job or how the request was closed.
import { fetchJson, showAlert, t } from './ui.js';

export function setUpApproval(jobId) {
  const alerts = document.getElementById('approval-alerts');
  const act = async (button, path, body) => {
    button.disabled = true;
    try {
      await fetchJson('/api/jobs/' + jobId + '/' + path, { method: 'POST', body });
      window.location.reload();
    } catch (err) {
      showAlert(alerts, 'danger', err.message);
      button.disabled = false;
    }
  };
  const approve = document.getElementById('approve-button');
  approve?.addEventListener('click', () => act(approve, 'approve', {}));
  const rejectForm = document.getElementById('reject-form');
  rejectForm?.addEventListener('submit', (event) => {
    event.preventDefault();
    const reason = document.getElementById('reject-reason').value.trim();
    if (reason) act(document.getElementById('reject-button'), 'reject', { reason });
  });
  const cancel = document.getElementById('cancel-request-button');
  cancel?.addEventListener('click', () => {
    if (window.confirm(t('Cancel this request? Nothing will be published.'))) act(cancel, 'cancel', {});
  });
}
