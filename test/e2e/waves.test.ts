// Publishing in waves from a real headless Chromium: zone1 (a) then zone2 (b), restarting process "app" between
// waves. Its status check fails on a, so the second wave never starts: the job page shows the waves, the gate's
// result per host and b untouched, then "Continue anyway" publishes zone2 as a new job.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Browser } from 'playwright-core';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { startBrowserApp, type BrowserApp, screenshot, collectPageErrors } from '../helpers/browser.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let web: BrowserApp;
let base: string;
let browser: Browser;
const bytesOf = (host: 'a' | 'b') => fs.readFileSync(path.join(fleet.targets[host].dir, 'app.txt'), 'utf8');

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b'], files: { 'trunk/app.txt': 'v1\n' } });
  t = await startTestApp({ engine: realEngine() });
  await t.addUser('ops', 'admin');
  const token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'ops');
  const api = supertest(t.app);
  const doc = fleet.importDoc({
    processes: [{ name: 'app', start: 'echo started >> restarts.log', stop: 'true', status: 'if [ -e broken ]; then echo "app is broken here"; exit 3; fi; echo running', groups: ['zone1', 'zone2'] }],
  }) as { projects: { groups: object }[] };
  doc.projects[0].groups = { zone1: ['a'], zone2: ['b'] };
  const imported = await api.post('/api/import').set('Authorization', `Bearer ${token}`).send(doc);
  expect(imported.status, JSON.stringify(imported.body)).toBe(201);
  // v1 on both hosts, then v2 in SVN for the browser to publish.
  const seed = await api.post('/api/projects/game/publish').set('Authorization', `Bearer ${token}`).send({ files: ['.'], groups: ['zone1', 'zone2'] });
  await t.jobs!.idle();
  expect((await api.get(`/api/jobs/${seed.body.jobId}`).set('Authorization', `Bearer ${token}`)).body.status).toBe('succeeded');
  await fleet.svn.commit({ 'trunk/app.txt': 'v2\n' }, 'second build');
  fs.writeFileSync(path.join(fleet.targets.a.dir, 'broken'), '');

  web = await startBrowserApp(t.app);
  ({ base, browser } = web);
}, 180_000);

afterAll(async () => {
  await web?.close();
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('publishing in waves in the browser', () => {
  it('stops before the second wave when the first wave\'s status check fails, and shows the waves and each host\'s gate', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'ops');

    await page.goto(`${base}/projects/game/publish`);
    await page.click('li[id="svn:app.txt"] > a');
    await page.check('input[data-group="zone1"]');
    await page.check('input[data-group="zone2"]');
    expect(await page.isVisible('#waves-options')).toBe(false);
    await page.check('#waves-on');
    await page.selectOption('#waves-restart', 'app');
    await page.fill('#waves-timeout', '2');
    await screenshot(page, 'waves-01-publish-form');
    await page.click('#publish-review');
    await page.waitForSelector('#publish-modal.show');
    expect(await page.textContent('#confirm-waves')).toBe('One wave per group: zone1, then zone2. After each wave: restart app and wait up to 2 s for its status check.');
    await Promise.all([page.waitForURL(/\/jobs\/\d+$/), page.click('#publish-submit')]);
    const jobId = Number(/\/jobs\/(\d+)$/.exec(page.url())![1]);

    await page.waitForSelector('#job-status[data-status="failed"]', { timeout: 60_000 });
    await page.waitForSelector('#waves-panel li.wave[data-wave="0"][data-status="failed"]');
    const waves = page.locator('#waves-panel li.wave');
    expect(await waves.count()).toBe(2);
    expect(await waves.nth(0).innerText()).toMatch(/Wave 1\s+zone1\s+failed\s+a\s+failed on a/);
    expect(await waves.nth(1).innerText()).toMatch(/Wave 2\s+zone2\s+not started\s+b\s+an earlier wave failed$/);
    expect(await page.textContent('#waves-settings')).toContain('restart app and wait up to 2 s');
    // The gate's result on a, and b never touched.
    expect(await page.textContent('tr[data-host="a"] .host-gate')).toMatch(/Gate: failed: app not running after 2 s; last check: app is not running \(exit 3\)/);
    expect(await page.getAttribute('tr[data-host="b"]', 'data-status')).toBe('skipped');
    expect(await page.isVisible('tr[data-host="b"] .host-gate')).toBe(false);
    expect(await page.textContent('#job-result')).toMatch(/Stopped: wave 1 of 2 \(zone1\) failed on host\(s\) a\. The hosts of later waves were not touched/);
    expect(await page.textContent('#rollback-button')).toContain('Roll back the waves done');
    expect(await page.textContent('#continue-button')).toContain('Continue anyway');
    expect(bytesOf('a')).toBe('v2\n');
    expect(bytesOf('b')).toBe('v1\n');
    await screenshot(page, 'waves-02-stopped');

    // A fresh load renders the same from the server.
    await page.reload();
    expect(await page.textContent('tr[data-host="a"] .host-gate')).toMatch(/Gate: failed: app not running after 2 s/);
    expect(await page.locator('#waves-panel li.wave[data-status="skipped"]').count()).toBe(1);

    // Continue anyway: zone2 is published by a new job that says which one it continues.
    await Promise.all([page.waitForURL((url) => url.pathname !== `/jobs/${jobId}` && /\/jobs\/\d+$/.test(url.pathname)), page.click('#continue-button')]);
    await page.waitForSelector('#job-status[data-status="succeeded"]', { timeout: 60_000 });
    expect(await page.textContent('#waves-panel')).toContain(`Continues job #${jobId}`);
    expect(await page.textContent('tr[data-host="b"] .host-gate')).toMatch(/Gate: passed: app is running/);
    expect(bytesOf('b')).toBe('v2\n');
    await screenshot(page, 'waves-03-continued');
    expect(errors).toEqual([]);
  });

  it('pauses between waves, live, until Continue is clicked on the job page', async () => {
    fs.rmSync(path.join(fleet.targets.a.dir, 'broken'), { force: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'ops');
    await page.goto(`${base}/projects/game/publish`);
    await page.fill('#revision', '1');
    await page.click('#revision-apply');
    await page.waitForSelector('li[id="svn:app.txt"]:has-text("r1")');
    await page.click('li[id="svn:app.txt"] > a');
    await page.check('input[data-group="zone1"]');
    await page.check('input[data-group="zone2"]');
    await page.check('#waves-on');
    await page.check('#waves-manual');
    await page.click('#publish-review');
    await page.waitForSelector('#publish-modal.show');
    await Promise.all([page.waitForURL(/\/jobs\/\d+$/), page.click('#publish-submit')]);

    // Followed live: wave 1 done, wave 2 waits, b still has the newer bytes.
    await page.waitForSelector('#job-status[data-status="paused"]', { timeout: 60_000 });
    await page.waitForSelector('#waves-panel li.wave[data-wave="1"][data-status="waiting"]');
    await page.waitForSelector('#continue-button:not(.d-none)');
    expect(await page.textContent('#continue-button')).toContain('Continue');
    expect(await page.isVisible('#stop-waves-button')).toBe(true);
    expect(await page.textContent('#waves-panel li.wave[data-wave="1"]')).toContain('waiting for Continue');
    expect(bytesOf('a')).toBe('v1\n');
    expect(bytesOf('b')).toBe('v2\n');
    await screenshot(page, 'waves-04-paused');

    await page.click('#continue-button');
    await page.waitForSelector('#job-status[data-status="succeeded"]', { timeout: 60_000 });
    await page.waitForSelector('#waves-panel li.wave[data-wave="1"][data-status="done"]');
    expect(await page.isVisible('#continue-button')).toBe(false);
    expect(await page.isVisible('#stop-waves-button')).toBe(false);
    expect(bytesOf('b')).toBe('v1\n');
    expect(errors).toEqual([]);
  });
});
