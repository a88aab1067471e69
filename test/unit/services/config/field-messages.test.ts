// Field messages stay plain English strings (the import and the API report them as they are); the pages show them
// translated, recognising the messages that were filled from a template with a number or a name in it.
import { describe, expect, it } from 'vitest';
import { fixedT } from '../../../../src/web/i18n.ts';
import { fieldMessageKey, nameRule, translateFieldMessage, translateFieldMessages } from '../../../../src/services/config/rules.ts';

describe('field messages', () => {
  const zh = fixedT('zh-CN');
  const en = fixedT('en');

  it('keeps the English text and finds the template a message was filled from', () => {
    const long = nameRule.safeParse('a'.repeat(200));
    expect(long.success).toBe(false);
    const message = long.error!.issues[0].message;
    expect(message).toBe('at most 64 characters');
    expect(fieldMessageKey(message)).toEqual({ key: 'at most {{n}} characters', params: { n: '64' } });
    expect(fieldMessageKey('required')).toEqual({ key: 'required' });
  });

  it('translates static and filled messages, and leaves unknown text as it is', () => {
    expect(translateFieldMessage('required', zh)).toBe('必填');
    expect(translateFieldMessage('at most 64 characters', zh)).toBe('最多 64 个字符');
    expect(translateFieldMessage('must be at most 100', zh)).toBe('不能大于 100');
    expect(translateFieldMessage('must be one of before-publish, after-publish', zh)).toBe('必须是以下之一：before-publish, after-publish');
    expect(translateFieldMessage('at most 64 characters', en)).toBe('at most 64 characters');
    expect(translateFieldMessage('something else entirely', zh)).toBe('something else entirely');
    expect(translateFieldMessages({ name: 'required', description: 'at most 500 characters' }, zh)).toEqual({ name: '必填', description: '最多 500 个字符' });
  });
});
