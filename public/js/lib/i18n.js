// The interface language in the browser: the same i18next and the same message file as the server
// (public/locales/<lang>.json, keyed by the English text), chosen by the page's <html lang>. Page modules import t()
// from here; a key missing from the file reads as its English text.
import i18next from '/vendor/i18next/i18next.js';

// Unit tests load browser modules in Node (no document): English then, with the keys as the text.
const doc = globalThis.document;
export const lang = doc?.documentElement.lang || 'en';
const version = doc?.querySelector('meta[name="ferry-messages"]')?.getAttribute('content') ?? '';

async function loadMessages() {
  if (!doc) return {};
  try {
    const res = await fetch(`/static/locales/${encodeURIComponent(lang)}.json?v=${encodeURIComponent(version)}`, { credentials: 'same-origin' });
    return res.ok ? await res.json() : {};
  } catch {
    return {};
  }
}

const i18n = i18next.createInstance();
await i18n.init({
  lng: lang,
  fallbackLng: false,
  resources: { [lang]: { translation: await loadMessages() } },
  keySeparator: false,
  nsSeparator: false,
  interpolation: { escapeValue: false },
  returnEmptyString: false,
});

// DataTables' own words (search box, paging, "Showing 1 to 10 of 57 entries"): set once for every table on the page.
if (globalThis.DataTable?.defaults) {
  globalThis.DataTable.defaults.language = {
    ...globalThis.DataTable.defaults.language,
    search: t('Search:'),
    lengthMenu: t('_MENU_ per page'),
    info: t('Showing _START_ to _END_ of _TOTAL_ entries'),
    infoEmpty: t('No entries'),
    infoFiltered: t('(filtered from _MAX_ in total)'),
    emptyTable: t('Nothing here yet'),
    zeroRecords: t('No matching entries'),
    loadingRecords: t('Loading…'),
    processing: t('Loading…'),
    paginate: { first: t('First'), last: t('Last'), next: t('Next'), previous: t('Previous') },
    aria: { orderable: t('Sort by this column'), orderableReverse: t('Reverse the order of this column') },
  };
}

/** Translates an English message key, with i18next's options (params, count for plurals). */
export function t(key, options) {
  return i18n.t(key, options);
}

const dateTime = new Intl.DateTimeFormat(lang, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const timeOnly = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const numbers = new Intl.NumberFormat(lang);

/** A date and time in the user's language and the browser's time zone ('' for nothing or an invalid date). */
export function formatDateTime(value) {
  if (value === null || value === undefined || value === '') return '';
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? '' : dateTime.format(date);
}

/** Only the time of day. */
export function formatTime(value) {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? '' : timeOnly.format(date);
}

export function formatNumber(n) {
  return numbers.format(n);
}

// ---- recorded text ----
// Job records (host errors, gate results, wave and job messages) are stored in English. tr() shows the recurring ones
// in the user's language: it matches the text against the message keys with {{placeholders}} (one regex per key,
// built on first use), and translates the key with the values it captured; anything else reads as recorded.
// src/web/recorded.ts is the server's twin, for the same text rendered into the page.
let patterns = null;

function keyPatterns() {
  if (patterns) return patterns;
  const bundle = i18n.getResourceBundle(lang, 'translation') || {};
  patterns = Object.keys(bundle)
    .filter((key) => key.includes('{{') && !/_(zero|one|two|few|many|other)$/.test(key))
    .map((key) => {
      const names = [];
      const source = key.split(/(\{\{\s*[\w.]+\s*\}\})/).map((part, i) => {
        if (i % 2 === 0) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(part.replace(/[{}\s]/g, ''));
        return '([\\s\\S]+?)';
      }).join('');
      return { key, names, re: new RegExp('^' + source + '$'), literal: key.replace(/\{\{\s*[\w.]+\s*\}\}/g, '').length };
    })
    .filter((p) => p.literal >= 9)
    .sort((a, b) => b.literal - a.literal);
  return patterns;
}

/** A recorded English message in the user's language (values that are messages themselves too); else as recorded. */
export function tr(text, depth = 0) {
  if (typeof text !== 'string' || text === '' || lang === 'en') return text;
  if (i18n.exists(text)) return i18n.t(text);
  if (depth > 2) return text;
  for (const p of keyPatterns()) {
    const m = p.re.exec(text);
    if (!m) continue;
    const params = {};
    p.names.forEach((name, i) => { params[name] = tr(m[i + 1], depth + 1); });
    return i18n.t(p.key, params);
  }
  return text;
}
