// The waves panel of a publish in waves (views/pages/jobs/_waves.ejs renders it first): redraws each wave's status,
// hosts and message from the job's `waves` (snapshot, live "waves" events, end), and says what Continue would do.
import { el, setStatusBadge, t } from './ui.js';
import { tr as recorded } from './i18n.js';

/** 'continue' (a wave waits to start), 'anyway' (a stopped job has waves left), or null; as continueOffer in waves-plan.ts. */
export function continueOffer(job, waves) {
  if (!waves) return null;
  if (['queued', 'running', 'paused'].includes(job.status)) return waves.waves.some((w) => w.status === 'waiting' || w.status === 'pausing') ? 'continue' : null;
  return !waves.continuedByJobId && job.hosts.some((h) => h.status === 'skipped') ? 'anyway' : null;
}

/** Wraps the server-rendered panel; returns null when the job is not a publish in waves. */
export function wavesPanel(root) {
  if (!root) return null;
  const view = JSON.parse(root.getAttribute('data-view'));
  const list = root.querySelector('.waves-list');
  return {
    apply(waves) {
      list.replaceChildren(...waves.waves.map((w, i) => {
        const shown = view[w.status] || { words: w.status, badge: w.status };
        const words = t(shown.words);
        const badge = el('span', { class: 'badge wave-status' }, words);
        setStatusBadge(badge, shown.badge);
        badge.textContent = words;
        return el('li', { class: 'list-group-item d-flex flex-wrap align-items-baseline gap-2 wave', dataset: { wave: i, status: w.status } },
          el('span', { class: 'text-secondary' }, t('Wave {{n}}', { n: i + 1 })),
          el('strong', { class: 'wave-label' }, w.label),
          badge,
          el('span', { class: 'wave-hosts font-monospace small' }, w.hosts.join(', ')),
          el('span', { class: 'wave-message small text-secondary' }, w.message ? recorded(w.message) : ''));
      }));
    },
  };
}
