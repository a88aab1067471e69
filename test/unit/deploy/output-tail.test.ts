// The bounded output tail shared by the transport, hooks, process commands and the job recorder.
import { describe, expect, it } from 'vitest';
import { OutputTail, droppedLine } from '../../../src/deploy/output-tail.ts';

describe('OutputTail', () => {
  it('keeps short output as it is, with no dropped line', () => {
    const tail = new OutputTail(100);
    tail.push('hello ');
    tail.push('world\n');
    expect(tail.text()).toBe('hello world\n');
    expect(tail.dropped).toBe(0);
  });

  it('keeps exactly the last `limit` characters and says how many bytes went before them', () => {
    const tail = new OutputTail(10);
    for (let i = 0; i < 100; i++) tail.push(`${String(i).padStart(2, '0')}\n`);
    expect(tail.body()).toBe('6\n97\n98\n99\n'.slice(-10));
    expect(tail.body()).toHaveLength(10);
    expect(tail.dropped).toBe(300 - 10);
    expect(tail.text()).toBe(`${droppedLine(290)}${tail.body()}`);
  });

  it('counts dropped bytes, not characters, for multi-byte output', () => {
    const tail = new OutputTail(2);
    tail.push('配置文件');
    expect(tail.body()).toBe('文件');
    expect(tail.dropped).toBe(6);
  });

  it('handles one chunk larger than the limit and a zero limit', () => {
    const tail = new OutputTail(4);
    tail.push('ab');
    tail.push('0123456789');
    expect(tail.text()).toBe(`${droppedLine(8)}6789`);
    const none = new OutputTail(0);
    none.push('x'.repeat(5 * 1024 * 1024));
    expect(none.text()).toBe('[… 5.0 MB of output dropped …]\n');
  });

  it('stays bounded over a million small chunks', () => {
    const tail = new OutputTail(1000);
    for (let i = 0; i < 1_000_000; i++) tail.push('y\n');
    expect(tail.body()).toHaveLength(1000);
    expect(tail.dropped).toBe(2_000_000 - 1000);
    expect((tail as unknown as { parts: string[] }).parts.length).toBeLessThan(2200);
  });
});
