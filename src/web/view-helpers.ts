// Small formatting helpers available in every EJS view.

/** Status -> Bootstrap colour. The browser's copy is public/js/lib/status.js (they are compared by a unit test). */
const STATUS_COLORS: Readonly<Record<string, string>> = {
  succeeded: 'success', ok: 'success', running: 'primary', queued: 'secondary', failed: 'danger',
  denied: 'warning', partial: 'warning', interrupted: 'dark', paused: 'info',
  awaiting_approval: 'info', rejected: 'danger', cancelled: 'secondary', expired: 'secondary', skipped: 'light',
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
  /** "just now", "2 min ago", "3 h ago", "4 days ago" (now: for tests). */
  fmtAgo(d: Date | string | null | undefined, now: number = Date.now()): string {
    if (!d) return '';
    const s = Math.max(0, Math.round((now - new Date(d).getTime()) / 1000));
    if (s < 60) return 'just now';
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
    const days = Math.floor(s / 86_400);
    return `${days} day${days === 1 ? '' : 's'} ago`;
  },
  /** Colour class of a job, host or operation-log status badge. */
  statusBadge(status: string): string {
    return `text-bg-${Object.hasOwn(STATUS_COLORS, status) ? STATUS_COLORS[status] : 'secondary'}`;
  },
};
