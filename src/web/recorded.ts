// Recorded text in the user's language. Job records (host errors, gate results, wave and job messages) are stored in
// English, as the engine wrote them, and the API returns them so. The job page shows the recurring ones translated:
// the text is matched against the message keys with {{placeholders}} (one regex per key, built on first use) and the
// matching key is translated with the values it captured (themselves translated when they are messages); anything
// else reads as recorded. public/js/lib/i18n.js (tr) is the browser's twin, for text that arrives live.
import type { TFunction } from 'i18next';
import { i18nInstance } from './i18n.ts';

interface KeyPattern {
  key: string;
  names: string[];
  re: RegExp;
  literal: number;
}

let patterns: KeyPattern[] | undefined;
const PLACEHOLDER = /(\{\{\s*[\w.]+\s*\}\})/;

/** A regex for one message key: its text literally, each {{placeholder}} a lazy capture. */
export function keyPattern(key: string): KeyPattern {
  const names: string[] = [];
  const source = key
    .split(PLACEHOLDER)
    .map((part, i) => {
      if (i % 2 === 0) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(part.replace(/[{}\s]/g, ''));
      return '([\\s\\S]+?)';
    })
    .join('');
  return { key, names, re: new RegExp(`^${source}$`), literal: key.replace(/\{\{\s*[\w.]+\s*\}\}/g, '').length };
}

function keyPatterns(): KeyPattern[] {
  patterns ??= Object.keys((i18nInstance().getResourceBundle('en', 'translation') ?? {}) as Record<string, string>)
    .filter((key) => key.includes('{{') && !/_(zero|one|two|few|many|other)$/.test(key))
    .map(keyPattern)
    // Keys that are little more than placeholders ("{{n}} s") would match too much.
    .filter((p) => p.literal >= 9)
    .sort((a, b) => b.literal - a.literal);
  return patterns;
}

/** Translates recorded English text with `t` (a key as is, or the most specific key pattern it matches). */
export function translateRecorded(text: string, t: TFunction, exists: (key: string) => boolean, depth = 0): string {
  if (!text) return text;
  if (exists(text)) return t(text);
  if (depth > 2) return text;
  for (const p of keyPatterns()) {
    const m = p.re.exec(text);
    if (!m) continue;
    const params: Record<string, string> = {};
    p.names.forEach((name, i) => {
      params[name] = translateRecorded(m[i + 1], t, exists, depth + 1);
    });
    return t(p.key, params);
  }
  return text;
}

/** The view helper `tr(text)` for a request's language. */
export function recordedTranslator(lng: string): (text: string | null | undefined) => string {
  const inst = i18nInstance();
  const t = inst.getFixedT(lng);
  const exists = (key: string) => inst.exists(key, { lng });
  return (text) => (text && lng !== 'en' ? translateRecorded(text, t, exists) : (text ?? ''));
}
