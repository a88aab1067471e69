// The job's live upload counts (one event per host per tick at most, a cap per tick across hosts, only the latest
// count kept) and the phase timeline each host row stores.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveProgress, type ProgressEvent } from '../../../src/services/jobs/progress.ts';
import { addPhase, parseTimeline, timelinePhase, type TimelineEntry } from '../../../src/services/jobs/timeline.ts';

describe('live upload counts', () => {
  let sent: ProgressEvent[];
  let live: LiveProgress;
  const count = (host: string, bytes: number): ProgressEvent => ({ type: 'progress', host, sent: bytes, total: 1000, rate: 10 });

  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    live = new LiveProgress((e) => sent.push(e), { tickMs: 250, hostsPerTick: 16 });
  });
  afterEach(() => {
    live.flush();
    vi.useRealTimers();
  });

  it('sends only the latest count of a host per tick', () => {
    for (let i = 1; i <= 10; i++) live.push(count('a', i * 10));
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(250);
    expect(sent.map((e) => e.sent)).toEqual([100]);
    expect(live.of('a')).toEqual({ sent: 100, total: 1000, rate: 10 });
  });

  it('sends at most 16 hosts per tick, the ones waiting longest first', () => {
    for (let i = 0; i < 64; i++) live.push(count(`h${i}`, 1));
    vi.advanceTimersByTime(250);
    expect(sent.map((e) => e.host)).toEqual(Array.from({ length: 16 }, (_, i) => `h${i}`));
    for (let i = 0; i < 16; i++) live.push(count(`h${i}`, 2));
    vi.advanceTimersByTime(250 * 3);
    expect(sent.slice(16).map((e) => e.host)).toEqual(Array.from({ length: 48 }, (_, i) => `h${i + 16}`));
    vi.advanceTimersByTime(250);
    expect(sent).toHaveLength(80);
    // 64 hosts updating all the time: never more than 64 events a second.
  });

  it('sends a host at once before its next phase, and everything left when the job ends', () => {
    live.push(count('a', 5));
    live.push(count('b', 7));
    live.sendNow('a');
    expect(sent.map((e) => e.host)).toEqual(['a']);
    live.flush();
    expect(sent.map((e) => e.host)).toEqual(['a', 'b']);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(2);
  });
});

describe('phase timeline', () => {
  it('records each new phase once, with the end as done or failed', () => {
    const timeline: TimelineEntry[] = [];
    const events: [string, string, number][] = [
      ['running', 'connecting', 100], ['running', 'uploading', 150], ['running', 'uploading', 160], ['running', 'snapshot', 900],
      ['running', 'snapshot', 910], ['running', 'extracting', 950], ['succeeded', 'done', 1200], ['failed', 'failed', 1300],
    ];
    for (const [status, phase, at] of events) addPhase(timeline, timelinePhase(status, phase), at);
    expect(timeline).toEqual([
      { phase: 'connecting', at: 100 }, { phase: 'uploading', at: 150 }, { phase: 'snapshot', at: 900 },
      { phase: 'extracting', at: 950 }, { phase: 'done', at: 1200 },
    ]);
    expect(timelinePhase('failed', 'extracting')).toBe('failed');
  });

  it('keeps at most the cap, saving the last place for the end', () => {
    const timeline: TimelineEntry[] = [];
    for (let i = 0; i < 100; i++) addPhase(timeline, i % 2 ? 'hooks' : 'extracting', i, 8);
    expect(timeline).toHaveLength(7);
    expect(addPhase(timeline, 'done', 200, 8)).toBe(true);
    expect(timeline).toHaveLength(8);
    expect(timeline.at(-1)).toEqual({ phase: 'done', at: 200 });
  });

  it('reads stored timelines and ignores broken ones', () => {
    expect(parseTimeline('')).toEqual([]);
    expect(parseTimeline('not json')).toEqual([]);
    expect(parseTimeline('{"phase":"x"}')).toEqual([]);
    expect(parseTimeline('[{"phase":"uploading","at":5},{"phase":3},null]')).toEqual([{ phase: 'uploading', at: 5 }]);
  });
});
