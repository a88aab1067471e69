// Shared browser helpers: HTML escaping (esc, html``), DOM building (el), status badges, alerts, formatting, and
// fetchJson (CSRF header + JSON errors). Page modules import what they need; nothing is put on window.
import { statusColor } from './status.js';
import { t, formatDateTime } from './i18n.js';

export { t, lang, formatDateTime, formatTime, formatNumber } from './i18n.js';

export { STATUS_COLORS, statusColor } from './status.js';

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes a value for HTML text or a quoted attribute; null and undefined become ''. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Markup that html`` inserts as it is (produced by html`` itself, so its values were escaped already). */
class SafeHtml {
  constructor(text) { this.text = text; }
  toString() { return this.text; }
}

function htmlValue(value) {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(htmlValue).join('');
  if (value === null || value === undefined || value === false) return '';
  return esc(value);
}

/**
 * Tagged template for the places that must hand a library an HTML string (DataTables renderers, jsTree node text):
 * every interpolated value is escaped, except the result of another html`` (and arrays of them). String() it.
 */
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((value, i) => { out += htmlValue(value) + strings[i + 1]; });
  return new SafeHtml(out);
}

/**
 * Builds an element: el('a', { href, class: 'x', dataset: { id: 1 } }, 'text', child, ...).
 * Strings become text nodes; null, undefined and false attributes and children are skipped; true sets an empty one.
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name === 'className' ? 'class' : name, value === true ? '' : String(value));
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))));
  return node;
}

// ---- status badges ----

/** Classes of a status badge, e.g. 'badge text-bg-success'. */
export function badgeClass(status) {
  return 'badge text-bg-' + statusColor(status);
}

/** How a status reads in the user's language: "awaiting_approval" -> "awaiting approval" (keys: the words). */
export function statusLabel(status) {
  return t(String(status).replace(/_/g, ' '));
}

/** A badge element for a status (label defaults to the status itself). */
export function statusBadge(status, label) {
  return el('span', { class: badgeClass(status), 'data-status': status }, label ?? statusLabel(status));
}

/** The same badge as an HTML string, for DataTables renderers. */
export function statusBadgeHtml(status) {
  return html`<span class="${badgeClass(status)}">${statusLabel(status)}</span>`;
}

/** Recolours and relabels an existing badge element, keeping its other classes. */
export function setStatusBadge(badge, status) {
  if (!badge) return;
  const kept = Array.from(badge.classList).filter((c) => c !== 'badge' && !c.startsWith('text-bg-'));
  badge.className = kept.concat(badgeClass(status).split(' ')).join(' ');
  badge.textContent = statusLabel(status);
  badge.setAttribute('data-status', status);
}

// ---- alerts ----

/**
 * A Bootstrap alert: the first line as text, further lines small and monospace (details such as a host key or an
 * error's output). opts: dismissible (default true), role (default 'alert'), className (extra classes), detailClass
 * (classes of the further lines).
 */
export function alertElement(kind, lines, opts = {}) {
  const dismissible = opts.dismissible ?? true;
  const [first, ...rest] = [].concat(lines).filter((line) => line !== null && line !== undefined && line !== '');
  return el('div', {
    class: ['alert', 'alert-' + kind, dismissible ? 'alert-dismissible fade show' : '', opts.className || ''].filter(Boolean).join(' '),
    role: opts.role || 'alert',
  },
  first ?? '',
  rest.map((line) => el('div', { class: opts.detailClass ?? 'small font-monospace mt-1' }, line)),
  dismissible ? el('button', { type: 'button', class: 'btn-close', 'data-bs-dismiss': 'alert', 'aria-label': t('Close') }) : null);
}

/** Shows an alert in `container`, after the ones already there, or instead of them with { replace: true }. */
export function showAlert(container, kind, lines, opts = {}) {
  const alert = alertElement(kind, lines, opts);
  if (opts.replace) container.replaceChildren(alert);
  else container.append(alert);
  return alert;
}

// ---- formatting ----

/** A date and time in the user's language and time zone, from an ISO string or a Date; '' for none. */
export function fmtDate(value) {
  return formatDateTime(value);
}

/** '850 ms', '42 s', '3 min 5 s' (the same as the server's fmtDuration); '' for none. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  ms = Math.max(0, ms);
  if (ms < 1000) return t('{{n}} ms', { n: ms });
  const s = Math.round(ms / 1000);
  return s < 60 ? t('{{n}} s', { n: s }) : t('{{m}} min {{s}} s', { m: Math.floor(s / 60), s: s % 60 });
}

/** '512 B', '1.5 KB', '20 MB'; '' for none. */
export function fmtSize(bytes) {
  if (bytes === null || bytes === undefined) return '';
  if (bytes < 1024) return bytes + ' B';
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (v < 10 ? v.toFixed(1) : Math.round(v)) + ' ' + units[i];
}

// ---- requests ----

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') || '';

/**
 * fetch() for the JSON API from a signed-in page: sends the CSRF header, encodes a plain-object body as JSON,
 * resolves with the parsed body, and rejects with an Error carrying the server's message (and .status).
 */
export async function fetchJson(url, options = {}) {
  const opts = { credentials: 'same-origin', ...options };
  opts.headers = { 'x-csrf-token': csrfToken(), Accept: 'application/json', ...options.headers };
  if (opts.body && typeof opts.body !== 'string' && !(opts.body instanceof FormData)) {
    opts.body = JSON.stringify(opts.body);
    opts.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, opts);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.error || t('Request failed with status {{status}}', { status: res.status }));
    err.code = data.code;
    err.status = res.status;
    throw err;
  }
  return data;
}

/**
 * Wires a "Test ..." button: it POSTs to its data-url and shows the answer ({ ok, message, ... }) in the element with
 * id `outId`, as success or danger; `lines(result)` picks what to show, `after(result)` updates the page.
 */
export function testButton(buttonId, outId, busyText, { lines = (result) => result.message, after = () => {} } = {}) {
  const button = document.getElementById(buttonId);
  const out = document.getElementById(outId);
  if (!button || !out) return;
  const show = (kind, text) => showAlert(out, kind, text, { replace: true });
  button.addEventListener('click', async () => {
    button.disabled = true;
    show('info', busyText);
    try {
      const result = await fetchJson(button.getAttribute('data-url'), { method: 'POST', body: {} });
      show(result.ok ? 'success' : 'danger', lines(result));
      after(result);
    } catch (err) {
      show('danger', err.message);
    } finally {
      button.disabled = false;
    }
  });
}
