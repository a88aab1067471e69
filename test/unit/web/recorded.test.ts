// Recorded English text (host errors, gate results, wave messages) shown in the user's language on the job page.
import { describe, expect, it } from 'vitest';
import { keyPattern, recordedTranslator } from '../../../src/web/recorded.ts';

describe('recorded text', () => {
  it('builds one anchored pattern per key, capturing each placeholder', () => {
    const p = keyPattern('failed on {{hosts}}');
    expect(p.names).toEqual(['hosts']);
    expect(p.re.exec('failed on web1, web2')?.[1]).toBe('web1, web2');
    expect(p.re.test('it failed on web1')).toBe(false);
  });

  it('translates recurring engine messages with their values, nested ones too, and leaves the rest as recorded', () => {
    const zh = recordedTranslator('zh-CN');
    expect(zh('not run: the request was cancelled')).toBe('未执行：申请已撤销');
    expect(zh('not run: rejected by lead')).toBe('未执行：已被 lead 驳回');
    expect(zh('skipped: an earlier wave failed')).toBe('已跳过：之前的批次失败');
    expect(zh('publishing wave 2 of 3 (web)')).toBe('正在发布第 2/3 批（web）');
    expect(zh('writing the snapshot failed on web1: disk full')).toBe('在 web1 上写入快照失败：disk full');
    expect(zh('Permission denied (publickey)')).toBe('Permission denied (publickey)');
    expect(zh('')).toBe('');
    const en = recordedTranslator('en');
    expect(en('not run: rejected by lead')).toBe('not run: rejected by lead');
  });
});
