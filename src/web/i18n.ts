// The interface language. Messages live in one file per language (public/locales/<lng>.json, also fetched by the
// browser), keyed by the English text itself ("Publish", "{{count}} hosts_one"): a missing Chinese string falls back
// to readable English, and test/unit/web/i18n.test.ts fails when a key used in the code or present in one file is
// missing from the other. The language is, in order: the one the user picked (User.locale), the `ferry_lang` cookie
// (the switch on the sign-in page, and kept after signing out), then the browser's Accept-Language.
// The operation log, the API's codes and job records stay in machine-readable English.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import i18next, { type i18n, type TFunction } from 'i18next';
import { LanguageDetector, handle } from 'i18next-http-middleware';
import { APP_ROOT } from '../config.ts';
import { tk } from '../lib/messages.ts';

export const LOCALES = ['en', 'zh-CN'] as const;
export type Locale = (typeof LOCALES)[number];
/** Each language in its own words, for the switch. */
export const LOCALE_NAMES: Readonly<Record<Locale, string>> = { en: 'English', 'zh-CN': '简体中文' };
export const LANG_COOKIE = 'ferry_lang';

export const isLocale = (value: unknown): value is Locale => typeof value === 'string' && (LOCALES as readonly string[]).includes(value);

export const localeFile = (lng: Locale) => path.join(APP_ROOT, 'public', 'locales', `${lng}.json`);

export function loadMessages(lng: Locale): Record<string, string> {
  return JSON.parse(readFileSync(localeFile(lng), 'utf8')) as Record<string, string>;
}

/** Maps an Accept-Language tag onto a supported language: any Chinese to zh-CN, any English to en. */
export function supportedLocale(tag: string | undefined | null): Locale | undefined {
  if (!tag) return undefined;
  const lower = tag.toLowerCase();
  if (lower === 'zh' || lower.startsWith('zh-')) return 'zh-CN';
  if (lower === 'en' || lower.startsWith('en-')) return 'en';
  return undefined;
}

/** The language of a request: the user's choice, then the cookie, then Accept-Language (by its q order), then English. */
export function requestLocale(req: Request): Locale {
  const picked = req.user?.locale;
  if (isLocale(picked)) return picked;
  const cookie = cookieValue(req.headers.cookie, LANG_COOKIE);
  if (isLocale(cookie)) return cookie;
  for (const tag of req.acceptsLanguages()) {
    const lng = supportedLocale(tag);
    if (lng) return lng;
  }
  return 'en';
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

let version: string | undefined;

/** A short hash of the message files: the browser fetches /static/locales/<lng>.json?v=<this>, so upgrades refetch. */
export function messagesVersion(): string {
  version ??= createHash('sha256').update(LOCALES.map((lng) => readFileSync(localeFile(lng))).join('\n')).digest('hex').slice(0, 12);
  return version;
}

let instance: i18n | undefined;

/** The one i18next instance (created on first use; messages are read once from disk). */
export function i18nInstance(): i18n {
  if (instance) return instance;
  const detector = new LanguageDetector();
  detector.addDetector({ name: 'ferry', lookup: (req: unknown) => requestLocale(req as Request), cacheUserLanguage: () => {} });
  const inst = i18next.createInstance();
  void inst.use(detector).init({
    initAsync: false,
    resources: Object.fromEntries(LOCALES.map((lng) => [lng, { translation: loadMessages(lng) }])),
    supportedLngs: [...LOCALES],
    fallbackLng: 'en',
    load: 'currentOnly',
    // Keys are English sentences: "." and ":" in them are text, not nesting.
    keySeparator: false,
    nsSeparator: false,
    // EJS (<%= %>) and the browser's textContent escape; messages are plain text.
    interpolation: { escapeValue: false },
    returnEmptyString: false,
    detection: { order: ['ferry'], caches: false },
  });
  instance = inst;
  return inst;
}

/** A translate function for a language outside a request (notifications, tests). */
export function fixedT(lng: Locale): TFunction {
  return i18nInstance().getFixedT(lng);
}

/**
 * Express middleware: req.t / req.language via i18next-http-middleware, then the per-language view helpers
 * (t, lang, fmtDate, fmtAgo, fmtDuration) in res.locals.
 */
export function i18nMiddleware() {
  const inst = i18nInstance();
  const base = handle(inst, { ignoreRoutes: ['/static/', '/vendor/'] });
  return function ferryI18n(req: Request, res: Response, next: NextFunction) {
    base(req, res, (err?: unknown) => {
      if (err) return next(err);
      const lng: Locale = isLocale(req.language) ? req.language : 'en';
      const { t, helpers } = perLanguage(lng);
      Object.assign(res.locals, helpers, { t, lang: lng, locales: LOCALES, localeNames: LOCALE_NAMES, pickedLocale: req.user?.locale ?? '' });
      next();
    });
  };
}

// The translate function and date formatters of each language, made once rather than on every request.
const languages = new Map<Locale, { t: TFunction; helpers: ReturnType<typeof localeHelpers> }>();
function perLanguage(lng: Locale) {
  let entry = languages.get(lng);
  if (!entry) {
    const t = i18nInstance().getFixedT(lng);
    entry = { t, helpers: localeHelpers(lng, t) };
    languages.set(lng, entry);
  }
  return entry;
}

/** Dates, ages and durations in a language. */
export function localeHelpers(lng: Locale, t: TFunction) {
  // Dates the server writes into a page are in UTC (the pages say so); the browser redraws some in its own time zone.
  const dateTime = new Intl.DateTimeFormat(lng, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: 'UTC' });
  return {
    fmtDate(d: Date | string | null | undefined): string {
      if (!d) return '';
      const date = typeof d === 'string' ? new Date(d) : d;
      return Number.isNaN(date.getTime()) ? '' : dateTime.format(date);
    },
    fmtDuration(ms: number | null | undefined): string {
      if (ms == null) return '';
      if (ms < 1000) return t('{{n}} ms', { n: ms });
      const s = Math.round(ms / 1000);
      return s < 60 ? t('{{n}} s', { n: s }) : t('{{m}} min {{s}} s', { m: Math.floor(s / 60), s: s % 60 });
    },
    /** "just now", "2 min ago", "3 h ago", "4 days ago" (now: for tests). */
    fmtAgo(d: Date | string | null | undefined, now: number = Date.now()): string {
      if (!d) return '';
      const s = Math.max(0, Math.round((now - new Date(d).getTime()) / 1000));
      if (s < 60) return t('just now');
      if (s < 3600) return t('{{n}} min ago', { n: Math.floor(s / 60) });
      if (s < 86_400) return t('{{n}} h ago', { n: Math.floor(s / 3600) });
      return t('{{count}} days ago', { count: Math.floor(s / 86_400) });
    },
  };
}

/**
 * Words that reach the page as data (roles, job and host statuses, operation-log results, phases): listed so the key
 * check holds their translations. Pages show them with t(word), statuses with underscores as spaces
 * ("awaiting approval"); the API and the operation log keep the codes.
 */
export const DATA_WORDS = [
  tk('admin'), tk('member'), tk('auditor'),
  tk('awaiting approval'), tk('queued'), tk('running'), tk('paused'), tk('succeeded'), tk('partial'), tk('failed'),
  tk('interrupted'), tk('rejected'), tk('cancelled'), tk('expired'), tk('skipped'), tk('ok'), tk('denied'),
  tk('connecting'), tk('uploading'), tk('relay-copy'), tk('verifying'), tk('snapshot'), tk('extracting'), tk('cleanup'),
  tk('hooks'), tk('done'), tk('checking'), tk('restoring'), tk('gate'), tk('refused'), tk('staging'), tk('unchanged'),
  tk('publish'), tk('rollback'), tk('restart'), tk('start'), tk('stop'), tk('status'), tk('drift'),
];
