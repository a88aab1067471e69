// Preview in a real headless Chromium: after a file was edited by hand on one target, the publish dialog lists per
// host what is new, changed, unchanged and drifted, keeps Publish disabled until "overwrite hand edits" is ticked, and
// then publishes; the diff page renders a config file's change between revisions and a hand edit with diff2html.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Browser, Page } from 'playwright-core';
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
let page: Page;
let errors: string[];
let r2: number;
const node = (p: string) => `li[id="svn:${p}"]`;
const targetFile = (host: string, rel: string) => path.join(fleet.targets[host].dir, rel);
const onTarget = (host: string, rel: string) => fs.readFileSync(targetFile(host, rel), 'utf8');

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b'], files: { 'trunk/conf/app.ini': '[server]\nport = 7000\nname = first\n', 'trunk/bin/server.sh': 'echo start\n' } });
  t = await startTestApp({ engine: realEngine() });
  await t.addUser('ops', 'admin');
  const token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'ops');
  const api = supertest(t.app);
  expect((await api.post('/api/import').set('Authorization', `Bearer ${token}`).send(fleet.importDoc())).status).toBe(201);
  await api.post('/api/projects/game/publish').set('Authorization', `Bearer ${token}`).send({ files: ['conf', 'bin'], groups: ['zone1'] }).expect(201);
  await t.jobs!.idle();
  r2 = await fleet.svn.commit({ 'trunk/conf/app.ini': '[server]\nport = 7001\nname = second\n' }, 'port 7001');
  fs.writeFileSync(targetFile('a', 'bin/server.sh'), 'echo start --debug # edited on the host\n');

  web = await startBrowserApp(t.app);
  ({ base, browser } = web);
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  errors = collectPageErrors(page);
  await web.signIn(page, 'ops');
}, 180_000);

afterAll(async () => {
  await web?.close();
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('preview in the browser', () => {
  it('shows the diff of a config file between two revisions, side by side and unified', async () => {
    await page.goto(`${base}/projects/game/diff?path=conf/app.ini&from=${r2 - 1}&to=${r2}`);
    await page.waitForSelector('#diff-view .d2h-file-side-diff');
    const text = await page.textContent('#diff-view');
    expect(text).toContain('port = 7000');
    expect(text).toContain('port = 7001');
    await screenshot(page, 'preview-diff-revisions');
    await page.click('label[for="layout-line"]');
    await page.waitForSelector('#diff-view .d2h-file-diff');
    expect(await page.locator('#diff-view .d2h-file-side-diff').count()).toBe(0);
  });

  it('shows a hand edit on a host against what Ferry put there', async () => {
    await page.goto(`${base}/projects/game/diff?path=bin/server.sh&host=a`);
    await page.waitForSelector('#diff-view .d2h-file-side-diff');
    expect(await page.textContent('#diff-view')).toContain('edited on the host');
    expect(await page.textContent('#diff-sizes')).toMatch(/sha256/);
    await screenshot(page, 'preview-diff-drift');
  });

  it('checks drift from the dashboard: the job lists the drifted file with its diff, the dashboard says how many hosts', async () => {
    await page.goto(`${base}/`);
    await Promise.all([page.waitForURL(/\/jobs\/\d+$/), page.click('[data-drift-check="game"]')]);
    await t.jobs!.idle();
    await page.reload();
    await page.waitForSelector('#drift-findings [data-drift-host="a"]');
    expect(await page.textContent('#drift-findings')).toContain('bin/server.sh');
    expect(await page.locator('#drift-findings [data-drift-host="b"]').count()).toBe(0);
    await screenshot(page, 'preview-drift-job');
    await page.goto(`${base}/`);
    expect(await page.textContent('tr[data-project="game"]')).toContain('1 host drifted');
    await screenshot(page, 'preview-dashboard-drift');
  });

  it('lists new/changed/unchanged/drifted per host and refuses to publish until the overwrite box is ticked', async () => {
    await page.goto(`${base}/projects/game/publish`);
    await page.waitForSelector(`${node('conf')} > a`);
    await page.click(`${node('conf')} > i.jstree-ocl`);
    await page.click(`${node('bin')} > i.jstree-ocl`);
    await page.click(`${node('conf/app.ini')} > a`);
    await page.click(`${node('bin/server.sh')} > a`);
    await page.check('input[data-group="zone1"]');
    await page.click('#publish-review');
    await page.waitForSelector('#publish-modal.show');
    await page.waitForSelector('[data-preview-host="a"]');
    const a = page.locator('[data-preview-host="a"]');
    const b = page.locator('[data-preview-host="b"]');
    expect(await a.locator('li[data-kind="drifted"]').allTextContents()).toEqual([expect.stringContaining('bin/server.sh')]);
    expect(await a.locator('li[data-kind="changed"]').allTextContents()).toEqual([expect.stringContaining('conf/app.ini')]);
    expect(await b.locator('li[data-kind="unchanged"]').allTextContents()).toEqual(['bin/server.sh']);
    expect(await b.locator('li[data-kind="changed"]').allTextContents()).toEqual([expect.stringContaining('conf/app.ini')]);
    expect(await b.locator('li[data-kind="drifted"]').count()).toBe(0);
    expect(await a.locator('[data-count="drifted"]').textContent()).toBe('1 drifted');
    expect(await page.isVisible('#confirm-overwrite')).toBe(true);
    expect(await page.textContent('#confirm-overwrite label')).toBe('Overwrite hand edits on 1 host');
    expect(await page.isDisabled('#publish-submit')).toBe(true);
    await page.waitForTimeout(400); // the modal's fade-in, for the screenshot
    await screenshot(page, 'preview-confirm-drifted');
    await page.check('#overwrite-drift');
    expect(await page.isDisabled('#publish-submit')).toBe(false);
    await page.uncheck('#overwrite-drift');
    expect(await page.isDisabled('#publish-submit')).toBe(true);
    await page.check('#overwrite-drift');
    await Promise.all([page.waitForURL(/\/jobs\/\d+$/), page.click('#publish-submit')]);
    await t.jobs!.idle();
    expect(onTarget('a', 'bin/server.sh')).toBe('echo start\n');
    expect(onTarget('b', 'conf/app.ini')).toContain('port = 7001');
    expect(errors).toEqual([]);
  });
});
