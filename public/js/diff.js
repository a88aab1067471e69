// Diff page: asks GET /api/projects/:name/diff and draws the unified diff with diff2html (side by side or unified);
// binary or large files show sizes and hashes only.
import { fetchJson, fmtSize, showAlert, t } from './lib/ui.js';

const TEXT = {
  same: () => t('The two copies are the same.'),
  sha: (state) => (state ? t('{{size}} ({{bytes}} bytes), sha256 {{sha256}}', { size: fmtSize(state.size), bytes: state.size, sha256: state.sha256 }) : t('not there')),
};

const page = document.getElementById('diff-page');
if (page) setUpDiffPage();

async function setUpDiffPage() {
  const data = JSON.parse(document.getElementById('diff-data').textContent);
  const alerts = document.getElementById('diff-alerts');
  const view = document.getElementById('diff-view');
  const params = new URLSearchParams(Object.entries(data.query).filter(([, v]) => v !== ''));
  let answer;
  try {
    answer = await fetchJson('/api/projects/' + encodeURIComponent(data.project) + '/diff?' + params);
  } catch (err) {
    view.replaceChildren();
    return showAlert(alerts, 'danger', err.message);
  }
  if (answer.note) showAlert(alerts, 'info', answer.noteKey ? t(answer.noteKey, answer.noteParams) : t(answer.note));
  if (answer.sizes) {
    document.getElementById('diff-sizes').classList.remove('d-none');
    document.getElementById('diff-from-label').textContent = answer.fromLabel ? t(answer.fromLabel.key, answer.fromLabel.params) : answer.from;
    document.getElementById('diff-from').textContent = TEXT.sha(answer.sizes.from);
    document.getElementById('diff-to-label').textContent = answer.toLabel ? t(answer.toLabel.key, answer.toLabel.params) : answer.to;
    document.getElementById('diff-to').textContent = TEXT.sha(answer.sizes.to);
  }
  if (answer.kind !== 'text') return view.replaceChildren();
  if (answer.diff.trim() === '') {
    view.replaceChildren();
    return showAlert(alerts, 'success', TEXT.same());
  }
  const draw = (outputFormat) => {
    // diff2html escapes the file's text itself; the container is emptied first.
    view.replaceChildren();
    const ui = new window.Diff2HtmlUI(view, answer.diff, { outputFormat, drawFileList: false, matching: 'lines', highlight: false, fileContentToggle: false });
    ui.draw();
  };
  draw('side-by-side');
  for (const radio of document.querySelectorAll('input[name="diff-layout"]')) radio.addEventListener('change', () => draw(radio.value));
}
