// Upload progress and the timeline in a real headless Chromium: a 5 MB publish to two direct hosts and one behind a
// relay, with uploads held to 1 MB/s (test/helpers/slow-transport.ts) so the bars move for a few seconds; the bars
// are read from their aria-valuenow, survive a reload mid-upload, and the timeline is drawn once the job ends.
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Browser, Page } from 'playwright-core';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { startBrowserApp, type BrowserApp, screenshot, collectPageErrors, SCREENSHOTS } from '../helpers/browser.ts';
import { slowUploads } from '../helpers/slow-transport.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let web: BrowserApp;
let base: string;
let browser: Browser;
let token: string;

/** The upload bar of each host row, as its aria-valuenow (null while the row shows none). */
const hostBars = (page: Page) => page.$$eval('#job-progress tr[data-host]', (rows) => Object.fromEntries(rows.map((tr) => {
  const box = tr.querySelector('.host-upload');
  const value = box && !box.classList.contains('d-none') ? Number(box.querySelector('.progress')!.getAttribute('aria-valuenow')) : null;
  return [tr.getAttribute('data-host'), value];
}))) as Promise<Record<string, number | null>>;

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b', 'c'], behindRelay: ['c'], files: { 'trunk/assets/map.pak': crypto.randomBytes(5 * 1024 * 1024), 'trunk/conf/app.ini': 'v1\n' } });
  t = await startTestApp({
    engine: realEngine({ transport: slowUploads(createSshTransport(), 1024 * 1024), relayTunnelMaxBytes: 1 }),
  });
  await t.addUser('ops', 'admin');
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'ops');
  const imported = await supertest(t.app).post('/api/import').set('Authorization', `Bearer ${token}`)
    .send(fleet.importDoc({ hostOverrides: { c: { relayMode: 'store-forward' } } }));
  expect(imported.status, JSON.stringify(imported.body)).toBe(201);
  web = await startBrowserApp(t.app);
  ({ base, browser } = web);
}, 180_000);

afterAll(async () => {
  await web?.close();
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('upload progress in the browser', () => {
  it('shows the bars moving during a multi-MB upload, keeps them over a reload, and draws the timeline after the job', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'ops');
    const started = await supertest(t.app).post('/api/projects/game/publish').set('Authorization', `Bearer ${token}`).send({ files: ['assets', 'conf'], groups: ['zone1'] });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const jobId = started.body.jobId as number;
    await page.goto(`${base}/jobs/${jobId}`);

    // Poll the bars until host a's is full: every value seen on the way is kept.
    const seen: Record<string, Set<number>> = { a: new Set(), b: new Set(), c: new Set() };
    let reloaded = false;
    let shot = false;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      const bars = await hostBars(page);
      for (const [host, value] of Object.entries(bars)) if (value !== null) seen[host]?.add(value);
      const a = bars.a;
      if (a !== null && a >= 20 && !shot) {
        await screenshot(page, 'progress-uploading');
        shot = true;
      }
      // A reload mid-upload shows the bar where it was at once (from the snapshot), not empty.
      if (a !== null && a >= 30 && a < 70 && !reloaded) {
        reloaded = true;
        await page.reload();
        await page.waitForFunction(`(() => {
          const box = document.querySelector('#job-progress tr[data-host="a"] .host-upload');
          return box && !box.classList.contains('d-none') && Number(box.querySelector('.progress').getAttribute('aria-valuenow')) >= ${a};
        })()`, undefined, { timeout: 5000 });
        await screenshot(page, 'progress-after-reload');
      }
      if (a === 100) break;
      await page.waitForTimeout(100);
    }
    expect(reloaded, JSON.stringify([...seen.a])).toBe(true);
    const moving = (host: string) => [...seen[host]].filter((v) => v > 0 && v < 100);
    expect(moving('a').length, JSON.stringify([...seen.a])).toBeGreaterThanOrEqual(2);
    expect(seen.a.has(100)).toBe(true);
    // The rate and sizes read as text beside the bar.
    expect(await page.locator('#job-progress tr[data-host="a"] .host-upload-text').textContent()).toMatch(/^\d+\.\d MB of \d+\.\d MB( · [\d.]+ (KB|MB)\/s)?$/);
    // The overall bars: hosts finished and bytes sent.
    await expect.poll(() => page.locator('.job-overall').isVisible()).toBe(true);

    // The job ends: every bar full, the overall bars complete, and the timeline appears with one row per host.
    await page.waitForSelector('#job-timeline svg.job-timeline', { timeout: 60_000 });
    expect(Object.values(await hostBars(page))).toEqual([100, 100, 100]);
    expect(await page.getAttribute('.job-overall-hosts', 'aria-valuenow')).toBe('100');
    expect(await page.getAttribute('.job-overall-bytes', 'aria-valuenow')).toBe('100');
    expect(await page.locator('.job-overall-hosts-text').textContent()).toBe('3 of 3 host(s) finished');
    await screenshot(page, 'progress-finished');
    const rows = page.locator('#job-timeline g.timeline-row');
    expect(await rows.count()).toBe(3);
    for (const host of ['a', 'b', 'c']) {
      const phases = await page.$$eval(`#job-timeline g.timeline-row[data-host="${host}"] rect.timeline-segment`, (rects) => rects.map((r) => r.getAttribute('data-phase')));
      expect(phases, host).toEqual(expect.arrayContaining(host === 'c' ? ['staging', 'relay-copy', 'extracting'] : ['connecting', 'uploading', 'extracting']));
      expect(await page.locator(`#job-timeline g.timeline-row[data-host="${host}"] rect.timeline-end[data-phase="done"]`).count()).toBe(1);
    }
    const uploadTitle = await page.locator('#job-timeline g.timeline-row[data-host="a"] rect.timeline-segment[data-phase="uploading"] title').textContent();
    expect(uploadTitle).toMatch(/^uploading on a: [\d.]+ s/);
    expect(await page.locator('.timeline-legend li[data-phase="uploading"]').textContent()).toContain('uploading');
    await page.locator('#job-timeline-section').screenshot({ path: path.join(SCREENSHOTS, 'timeline-job.png') });

    // The same page loaded after the job draws the timeline from the stored job.
    await page.reload();
    await page.waitForSelector('#job-timeline svg.job-timeline');
    expect(await page.locator('#job-timeline g.timeline-row').count()).toBe(3);
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);

  it('draws 64 hosts as 64 readable rows in a scrolling box', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'ops');
    const job = await t.db.job.findFirstOrThrow({ orderBy: { id: 'desc' } });
    await page.goto(`${base}/jobs/${job.id}`);
    await page.waitForSelector('#job-timeline svg.job-timeline');
    // The page's own module, given 64 hosts with one slow upload and one failure.
    const layout = await page.evaluate(`(async () => {
      const { renderTimeline } = await import('/static/js/lib/timeline.js');
      const t0 = Date.now() - 60000;
      const hosts = Array.from({ length: 64 }, (_, i) => {
        const upload = i === 17 ? 30000 : 4000 + (i % 7) * 500;
        const at = t0 + (i % 8) * 300;
        return {
          host: 'game-zone-' + String(i + 1).padStart(2, '0') + '.example.net',
          timeline: [
            { phase: 'connecting', at }, { phase: 'uploading', at: at + 400 }, { phase: 'snapshot', at: at + 400 + upload },
            { phase: 'extracting', at: at + 900 + upload }, { phase: i === 40 ? 'failed' : 'done', at: at + 2500 + upload },
          ],
        };
      });
      const box = document.getElementById('job-timeline');
      const drawn = renderTimeline(box, hosts);
      const scroller = box.querySelector('.timeline-body');
      return { rows: box.querySelectorAll('g.timeline-row').length, height: drawn.height, scrolls: scroller.scrollHeight > scroller.clientHeight };
    })()`) as { rows: number; height: number; scrolls: boolean };
    expect(layout.rows).toBe(64);
    expect(layout.scrolls).toBe(true);
    await page.locator('#job-timeline-section').screenshot({ path: path.join(SCREENSHOTS, 'timeline-64-hosts.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
