// The message files: both languages hold the same keys, every key the code uses is in them, and a translation keeps
// the placeholders of its English text. Fails naming the keys (run `npm run i18n` to list and add them).
import { describe, expect, it } from 'vitest';
import { baseKey, baseKeys, placeholders, readMessages, usedKeys } from '../../../scripts/i18n.ts';
import { fixedT, localeHelpers } from '../../../src/web/i18n.ts';

const en = readMessages('en');
const zh = readMessages('zh-CN');

describe('message files', () => {
  it('have the same keys in English and Chinese', () => {
    const zhBase = baseKeys(zh);
    const enBase = baseKeys(en);
    expect([...enBase].filter((k) => !zhBase.has(k)), 'keys missing from zh-CN.json').toEqual([]);
    expect([...zhBase].filter((k) => !enBase.has(k)), 'keys missing from en.json').toEqual([]);
  });

  it('hold every key the code uses', () => {
    const enBase = baseKeys(en);
    const missing = [...usedKeys()].filter(([key]) => !enBase.has(key)).map(([key, where]) => `${where}: ${key}`);
    expect(missing, 'run `npm run i18n`').toEqual([]);
  });

  it('keep the placeholders of the English text and leave nothing empty', () => {
    const enPlaceholders = new Map<string, Set<string>>();
    for (const [key, text] of Object.entries(en)) {
      const set = enPlaceholders.get(baseKey(key)) ?? new Set<string>();
      for (const p of placeholders(text)) set.add(p);
      enPlaceholders.set(baseKey(key), set);
    }
    const wrong: string[] = [];
    for (const [key, text] of Object.entries(zh)) {
      if (!text.trim()) wrong.push(`${key}: empty`);
      // Plural forms may drop {{count}} in a language that says "one" in words; every other placeholder must stay.
      const expected = [...(enPlaceholders.get(baseKey(key)) ?? [])].filter((p) => p !== 'count').sort();
      const got = placeholders(text).filter((p) => p !== 'count');
      if (JSON.stringify(got) !== JSON.stringify(expected)) wrong.push(`${key}: has {{${got.join('}}, {{')}}}, needs {{${expected.join('}}, {{')}}}`);
    }
    expect(wrong).toEqual([]);
  });

  it('translates, falls back to the English key, and forms plurals per language', () => {
    expect(fixedT('zh-CN')('Sign out')).toBe('退出登录');
    expect(fixedT('zh-CN')('A sentence nobody translated {{x}}', { x: 1 })).toBe('A sentence nobody translated 1');
    const enAgo = localeHelpers('en', fixedT('en'));
    const zhAgo = localeHelpers('zh-CN', fixedT('zh-CN'));
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(enAgo.fmtAgo(new Date(now - 86_400_000), now)).toBe('1 day ago');
    expect(enAgo.fmtAgo(new Date(now - 3 * 86_400_000), now)).toBe('3 days ago');
    expect(zhAgo.fmtAgo(new Date(now - 3 * 86_400_000), now)).toBe('3 天前');
    expect(zhAgo.fmtDuration(125_000)).toBe('2 分 5 秒');
  });
});
