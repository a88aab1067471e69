// Small formatting helpers available in every EJS view.

/** Status -> Bootstrap colour. The browser's copy is public/js/lib/status.js (they are compared by a unit test). */
const STATUS_COLORS: Readonly<Record<string, string>> = {
  succeeded: 'success', ok: 'success', running: 'primary', queued: 'secondary', failed: 'danger',
  denied: 'warning', partial: 'warning', interrupted: 'dark', paused: 'info',
};

export const viewHelpers = {
  fmtDate(d: Date | string | null | undefined): string {
    if (!d) return '';
    const date = typeof d === 'string' ? new Date(d) : d;
    return date.toISOString().replace('T', ' ').slice(0, 19);
  },
  fmtDuration(ms: number | null | undefined): string {
    if (ms == null) return '';
    if (ms < 1000) return `${ms} ms`;
    const s = Math.round(ms / 1000);
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
  },
  /** Colour class of a job, host or operation-log status badge. */
  statusBadge(status: string): string {
    return `text-bg-${Object.hasOwn(STATUS_COLORS, status) ? STATUS_COLORS[status] : 'secondary'}`;
  },
};
