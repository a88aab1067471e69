// The arithmetic behind the job page's timeline (public/js/lib/timeline.js) and upload bars (upload-bars.js): where
// segments go on the shared axis, the ticks, and the overall numbers.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const lib = (name: string) => pathToFileURL(path.resolve(import.meta.dirname, '../../../public/js/lib', name)).href;

interface Segment { phase: string; from: number; to: number; duration: number; x: number; width: number }
interface Row { host: string; y: number; segments: Segment[]; end: { phase: string; x: number } | null; total: number | null }
interface Layout { start: number; end: number; span: number; plotX: number; plotWidth: number; height: number; rows: Row[]; ticks: { x: number; label: string }[] }
type HostIn = { host: string; timeline: { phase: string; at: number }[]; finishedAt?: string | null };

const { timelineLayout, tickStep, fmtSpan } = (await import(lib('timeline.js'))) as {
  timelineLayout: (hosts: HostIn[], opts: { width: number; labelWidth?: number; durationWidth?: number; rowHeight?: number; rowGap?: number; maxTicks?: number }) => Layout | null;
  tickStep: (span: number, max: number) => number;
  fmtSpan: (ms: number) => string;
};
const bars = (await import(lib('upload-bars.js'))) as {
  fmtBytes: (n: number) => string;
  percentOf: (sent: number, total: number) => number;
  uploadText: (u: { sent: number; total: number; rate: number; relay?: string }) => string;
  overallUpload: (hosts: { status: string; upload?: { sent: number; total: number } | null }[]) => { finished: number; hosts: number; sent: number; total: number };
};

const T0 = 1_700_000_000_000;
const fast: HostIn = { host: 'a', timeline: [{ phase: 'connecting', at: T0 }, { phase: 'uploading', at: T0 + 1000 }, { phase: 'extracting', at: T0 + 3000 }, { phase: 'done', at: T0 + 4000 }] };
const slow: HostIn = { host: 'b', timeline: [{ phase: 'connecting', at: T0 + 1000 }, { phase: 'uploading', at: T0 + 2000 }, { phase: 'failed', at: T0 + 11_000 }] };

describe('timeline layout', () => {
  it('puts every host on one axis from the first start to the last end', () => {
    const layout = timelineLayout([fast, slow], { width: 1000, labelWidth: 100, durationWidth: 100, rowHeight: 16, rowGap: 4 })!;
    expect(layout.span).toBe(11_000);
    expect(layout.plotWidth).toBe(800);
    const [a, b] = layout.rows;
    // 1 s of 11 s is 72.7 px of 800.
    expect(a.segments.map((s) => [s.phase, s.duration, Math.round(s.x), Math.round(s.width)])).toEqual([
      ['connecting', 1000, 100, 73], ['uploading', 2000, 173, 145], ['extracting', 1000, 318, 73],
    ]);
    expect(a.end).toEqual({ phase: 'done', x: 100 + (4000 / 11_000) * 800 });
    expect(b.segments.map((s) => s.phase)).toEqual(['connecting', 'uploading']);
    expect(b.segments[1].duration).toBe(9000);
    expect(b.end?.phase).toBe('failed');
    expect(b.end?.x).toBe(900);
    expect([a.total, b.total]).toEqual([4000, 10_000]);
    expect([a.y, b.y, layout.height]).toEqual([0, 20, 40]);
  });

  it('runs an unfinished last phase to the host end time, and keeps hosts without times as empty rows', () => {
    const interrupted: HostIn = { host: 'c', timeline: [{ phase: 'uploading', at: T0 }], finishedAt: new Date(T0 + 5000).toISOString() };
    const layout = timelineLayout([interrupted, { host: 'd', timeline: [] }], { width: 600, labelWidth: 100, durationWidth: 0 })!;
    expect(layout.rows[0].segments).toEqual([{ phase: 'uploading', from: T0, to: T0 + 5000, duration: 5000, x: 100, width: 500 }]);
    expect(layout.rows[0].end).toBeNull();
    expect(layout.rows[1]).toMatchObject({ host: 'd', segments: [], total: null });
    expect(timelineLayout([{ host: 'x', timeline: [] }], { width: 500 })).toBeNull();
  });

  it('gives a phase of a few milliseconds a visible sliver, and 64 hosts a row each', () => {
    const hosts = Array.from({ length: 64 }, (_, i) => ({ host: `h${i}`, timeline: [{ phase: 'verifying', at: T0 }, { phase: 'extracting', at: T0 + 1 }, { phase: 'done', at: T0 + 600_000 + i }] }));
    const layout = timelineLayout(hosts, { width: 900 })!;
    expect(layout.rows).toHaveLength(64);
    expect(layout.rows[0].segments[0].width).toBe(1);
    expect(new Set(layout.rows.map((r) => r.y)).size).toBe(64);
  });

  it('chooses round tick steps, at most maxTicks of them', () => {
    expect(tickStep(11_000, 8)).toBe(2000);
    expect(tickStep(900, 8)).toBe(200);
    expect(tickStep(10 * 60_000, 8)).toBe(120_000);
    expect(tickStep(30 * 3_600_000, 8)).toBe(4 * 3_600_000);
    const layout = timelineLayout([fast, slow], { width: 1000, maxTicks: 8 })!;
    expect(layout.ticks.map((t) => t.label)).toEqual(['0', '2.0 s', '4.0 s', '6.0 s', '8.0 s', '10 s']);
    expect(layout.ticks[0].x).toBe(layout.plotX);
    expect(fmtSpan(350)).toBe('350 ms');
    expect(fmtSpan(185_000)).toBe('3 min 5 s');
  });
});

describe('upload bars', () => {
  it('formats counts and rates the way an operator reads them', () => {
    expect(bars.uploadText({ sent: 13_002_342, total: 33_449_574, rate: 8_493_465 })).toBe('12.4 MB of 31.9 MB · 8.1 MB/s');
    expect(bars.uploadText({ sent: 500, total: 2048, rate: 0, relay: 'r1' })).toBe('1 KB of 2 KB (to relay r1)');
    expect(bars.fmtBytes(0)).toBe('0 KB');
  });

  it('reaches 100 % only when everything is sent', () => {
    expect(bars.percentOf(999_999, 1_000_000)).toBe(99);
    expect(bars.percentOf(1_000_000, 1_000_000)).toBe(100);
    expect(bars.percentOf(5, 0)).toBe(0);
  });

  it('adds up hosts finished and bytes, counting hosts not started yet at the package size', () => {
    expect(bars.overallUpload([
      { status: 'succeeded', upload: { sent: 100, total: 100 } },
      { status: 'running', upload: { sent: 40, total: 100 } },
      { status: 'queued', upload: null },
      { status: 'failed', upload: { sent: 10, total: 100 } },
    ])).toEqual({ finished: 2, hosts: 4, sent: 150, total: 400 });
  });
});
