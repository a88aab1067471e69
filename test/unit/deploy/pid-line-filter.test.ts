// Finding a command's own FERRYPID line in stderr, against what a hostile target can send.
import { describe, expect, it } from 'vitest';
import { PidLineFilter } from '../../../src/deploy/transport/pid-line.ts';

const NONCE = '0123456789abcdef';

function feed(filter: PidLineFilter, chunks: string[]): string {
  return chunks.map((chunk) => filter.push(chunk)).join('') + filter.end();
}

describe('PidLineFilter', () => {
  it('takes the marker line out of stderr, split anywhere and after a banner, and keeps everything else', () => {
    const stream = `Welcome\nFERRYPID:other:5\nFERRYPID:${NONCE}:4242\nreal error\n`;
    for (let size = 1; size <= stream.length; size++) {
      const filter = new PidLineFilter(NONCE);
      const chunks: string[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.slice(i, i + size));
      expect(feed(filter, chunks)).toBe('Welcome\nFERRYPID:other:5\nreal error\n');
      expect(filter.pid).toBe(4242);
    }
  });

  it('ignores a marker that is not a whole line, or has no digits or too many', () => {
    for (const text of [`x FERRYPID:${NONCE}:7\n`, `FERRYPID:${NONCE}:\n`, `FERRYPID:${NONCE}:12345678901\n`, `FERRYPID:${NONCE}:7x\n`, `FERRYPID:${NONCE}:7`]) {
      const filter = new PidLineFilter(NONCE);
      expect(feed(filter, [text])).toBe(text);
      expect(filter.pid).toBeNull();
    }
  });

  it('gives up after 64 KB without the marker and passes output through from then on', () => {
    const filter = new PidLineFilter(NONCE);
    const line = `${'e'.repeat(1023)}\n`;
    let out = '';
    for (let i = 0; i < 64; i++) out += filter.push(line);
    expect(out).toBe('');
    out += filter.push(line);
    expect(out).toBe(line.repeat(65));
    expect(filter.push(`FERRYPID:${NONCE}:9\n`)).toBe(`FERRYPID:${NONCE}:9\n`);
    expect(filter.pid).toBeNull();
  });

  it('does linear work for a target sending "\\nF" one or two bytes per packet', () => {
    const filter = new PidLineFilter(NONCE);
    const started = process.cpuUsage();
    let out = '';
    // Before: each packet rescanned everything held so far (up to 64 KB): 5.6 s of blocked event loop per command.
    for (let i = 0; i < 40_000; i++) out += filter.push(i % 2 === 0 ? '\n' : 'F');
    out += filter.end();
    const used = process.cpuUsage(started);
    expect(out).toBe('\nF'.repeat(20_000));
    expect((used.user + used.system) / 1000).toBeLessThan(1_000);
  });
});
