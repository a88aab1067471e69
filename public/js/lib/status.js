// Job, host and operation-log statuses -> Bootstrap colour. No DOM here, so the unit tests can import it and check
// it against the server's copy (src/web/view-helpers.ts statusBadge), which renders the same badges in EJS.
export const STATUS_COLORS = Object.freeze({
  succeeded: 'success', ok: 'success', running: 'primary', queued: 'secondary', failed: 'danger',
  denied: 'warning', partial: 'warning', interrupted: 'dark', paused: 'info',
  awaiting_approval: 'info', rejected: 'danger', cancelled: 'secondary', expired: 'secondary', skipped: 'light',
});

/** Bootstrap colour for a status; unknown ones are grey. */
export function statusColor(status) {
  return Object.hasOwn(STATUS_COLORS, status) ? STATUS_COLORS[status] : 'secondary';
}
