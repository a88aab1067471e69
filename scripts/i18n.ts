// Message keys: finds every English message key the code uses and checks both message files against it.
//   npm run i18n             adds used keys missing from en.json (as their own text), lists keys zh-CN.json lacks
//   npm run i18n -- --prune  also removes keys nothing uses any more (from both files)
// The same checks run in test/unit/web/i18n.test.ts, which fails on any gap.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LOCALE_DIR = path.join(ROOT, 'public', 'locales');
const PLURAL = /_(zero|one|two|few|many|other)$/;

/** Where keys are used: views, browser modules, server code. */
const SOURCES: { dir: string; ext: string }[] = [
  { dir: 'views', ext: '.ejs' },
  { dir: 'public/js', ext: '.js' },
  { dir: 'src', ext: '.ts' },
];
const SKIP = new Set([path.join(ROOT, 'src', 'generated')]);

const STRING = String.raw`(['"])((?:\\.|(?!\1)[^\\\n])*)\1`;
/**
 * Calls whose first string argument is a message key: t('...'), tk('...'), the error helpers, flash(req, 'kind', '...')
 * and new FerryError('kind', '...'). A key built from a template literal cannot be checked: use params instead.
 */
const PATTERNS = [
  new RegExp(String.raw`(?<![\w$.])(?:t|tk|req\.t|notFound|forbidden|badRequest|conflict)\(\s*` + STRING, 'g'),
  new RegExp(String.raw`\bflash\(\s*req\s*,\s*'\w+'\s*,\s*` + STRING, 'g'),
  new RegExp(String.raw`\bnew FerryError\(\s*'[\w-]+'\s*,\s*` + STRING, 'g'),
];

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (SKIP.has(full)) continue;
    if (statSync(full).isDirectory()) out.push(...files(full, ext));
    else if (name.endsWith(ext)) out.push(full);
  }
  return out;
}

const unescape = (s: string) => s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/** Every key used in the code, with the first place it is used. */
export function usedKeys(): Map<string, string> {
  const keys = new Map<string, string>();
  for (const { dir, ext } of SOURCES) {
    for (const file of files(path.join(ROOT, dir), ext)) {
      const text = readFileSync(file, 'utf8');
      for (const pattern of PATTERNS) {
        for (const m of text.matchAll(pattern)) {
          const key = unescape(m[2]);
          if (key && !keys.has(key)) keys.set(key, `${path.relative(ROOT, file)}:${text.slice(0, m.index).split('\n').length}`);
        }
      }
    }
  }
  return keys;
}

export type Messages = Record<string, string>;
export const readMessages = (lng: string): Messages => JSON.parse(readFileSync(path.join(LOCALE_DIR, `${lng}.json`), 'utf8')) as Messages;

export function writeMessages(lng: string, messages: Messages): void {
  const sorted = Object.fromEntries(Object.entries(messages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeFileSync(path.join(LOCALE_DIR, `${lng}.json`), JSON.stringify(sorted, null, 2) + '\n');
}

/** A key without its plural suffix ("{{count}} hosts_one" -> "{{count}} hosts"). */
export const baseKey = (key: string) => key.replace(PLURAL, '');
export const baseKeys = (messages: Messages) => new Set(Object.keys(messages).map(baseKey));
export const placeholders = (text: string) => [...new Set([...text.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)].map((m) => m[1]))].sort();

/**
 * English phrases that have a different Chinese translation: several words, no placeholders (those are filled in),
 * so finding one on a page shown in Chinese means a string that was not translated (used by the page scans in tests).
 */
export function englishPhrases(): string[] {
  const en = readMessages('en');
  const zh = readMessages('zh-CN');
  return Object.keys(zh)
    .filter((key) => !/\{\{|_(one|other)$/.test(key) && zh[key] !== key && / \S+ \S/.test(en[key] ?? key) && (en[key] ?? key).length >= 12)
    .map((key) => en[key] ?? key);
}

function main() {
  const prune = process.argv.includes('--prune');
  const used = usedKeys();
  const en = readMessages('en');
  const zh = readMessages('zh-CN');
  const enBase = baseKeys(en);
  let added = 0;
  for (const key of used.keys()) {
    if (!enBase.has(key)) {
      en[key] = key;
      added++;
    }
  }
  if (prune) {
    for (const messages of [en, zh]) for (const key of Object.keys(messages)) if (!used.has(baseKey(key))) delete messages[key];
  }
  writeMessages('en', en);
  writeMessages('zh-CN', zh);
  const zhBase = baseKeys(zh);
  const missing = [...baseKeys(en)].filter((k) => !zhBase.has(k));
  const unused = [...baseKeys(en)].filter((k) => !used.has(k));
  console.log(`${used.size} keys used; ${added} added to en.json; ${unused.length} unused${prune ? ' (pruned)' : ''}`);
  if (missing.length) {
    console.log(`zh-CN.json lacks ${missing.length}:`);
    for (const key of missing) console.log(`  ${JSON.stringify(key)}  (${used.get(key) ?? 'unused'})`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
