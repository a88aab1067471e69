// The bounded output tail shared by the transport, hooks, process commands and the job recorder.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

  it('holds about `limit` characters of memory when fed two-byte chunks, and lets dropped chunks go', () => {
    const heapAfterGc = forcedGc();
    const limit = 1024 * 1024;
    const before = heapAfterGc();
    const tail = new OutputTail(limit);
    // 4 M characters in 2-character packets: a hostile host trickling output. Before, every packet was kept as its own
    // string (~20 bytes of header each) and dropped ones stayed referenced: a 16 M-character tail held 421 MB.
    for (let i = 0; i < 2 * 1024 * 1024; i++) tail.push(i % 2 ? 'b\n' : 'a\n');
    const held = heapAfterGc() - before;
    expect(tail.body()).toHaveLength(limit);
    expect(tail.body().endsWith('a\nb\n')).toBe(true);
    expect(tail.dropped).toBe(3 * limit);
    expect(held).toBeLessThan(4 * limit);
  });

  it('keeps the same text whatever the chunk sizes', () => {
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}\n`).join('');
    const expected = new OutputTail(50_000);
    expected.push(text);
    for (const size of [1, 3, 700, 8191, 8192, 20_000]) {
      const tail = new OutputTail(50_000);
      for (let i = 0; i < text.length; i += size) tail.push(text.slice(i, i + size));
      expect(tail.text()).toBe(expected.text());
      expect(tail.body()).toBe(text.slice(-50_000));
    }
  });
});

/** A function that collects garbage and answers the heap in use (gc exposed for this test only). */
function forcedGc(): () => number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
}
