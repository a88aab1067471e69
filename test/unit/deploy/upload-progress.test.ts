// The per-host upload throttle: a watcher gets the first count, then at most one per interval (the latest), and the
// final count always; rates are bytes per second.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UploadThrottle, type UploadSample } from '../../../src/deploy/upload-progress.ts';

let reports: UploadSample[];
let throttle: UploadThrottle;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
  reports = [];
  throttle = new UploadThrottle((sample) => reports.push(sample), 250);
});
afterEach(() => {
  throttle.close();
  vi.useRealTimers();
});

describe('upload throttle', () => {
  it('reports the first count at once and then at most one count per interval', () => {
    for (let ms = 0; ms < 1000; ms += 10) {
      vi.setSystemTime(ms);
      throttle.update((ms + 10) * 1000, 10_000_000);
    }
    // 0, 250, 500, 750 ms: four reports in one second for 100 updates.
    expect(reports.map((r) => r.sent)).toEqual([10_000, 260_000, 510_000, 760_000]);
  });

  it('sends the latest count once the interval is over, even when no more bytes come', () => {
    throttle.update(1000, 5000);
    vi.advanceTimersByTime(100);
    throttle.update(2000, 5000);
    throttle.update(3000, 5000);
    expect(reports.map((r) => r.sent)).toEqual([1000]);
    vi.advanceTimersByTime(150);
    expect(reports.map((r) => r.sent)).toEqual([1000, 3000]);
    vi.advanceTimersByTime(1000);
    expect(reports).toHaveLength(2);
  });

  it('always reports the final count at once, with the average rate of the whole upload', () => {
    throttle.update(1_000_000, 4_000_000);
    vi.advanceTimersByTime(100);
    throttle.update(2_000_000, 4_000_000);
    vi.advanceTimersByTime(100);
    throttle.update(4_000_000, 4_000_000);
    expect(reports.map((r) => [r.sent, r.total])).toEqual([[1_000_000, 4_000_000], [4_000_000, 4_000_000]]);
    // 4 MB since the first count 200 ms ago.
    expect(reports[1].rate).toBe(20_000_000);
    throttle.update(4_000_000, 4_000_000);
    expect(reports).toHaveLength(2);
  });

  it('smooths the rate between reports', () => {
    throttle.update(0, 10_000_000);
    vi.setSystemTime(1000);
    throttle.update(1_000_000, 10_000_000);
    vi.setSystemTime(2000);
    throttle.update(4_000_000, 10_000_000);
    expect(reports.map((r) => r.rate)).toEqual([0, 1_000_000, 2_000_000]);
  });

  it('drops a waiting count once closed (a failed host gets no late progress)', () => {
    throttle.update(1, 10);
    throttle.update(2, 10);
    throttle.close();
    vi.advanceTimersByTime(1000);
    throttle.update(10, 10);
    expect(reports.map((r) => r.sent)).toEqual([1]);
  });
});
