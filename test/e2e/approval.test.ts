// Approval in a real headless Chromium: a developer's publish waits as a request; the lead sees the "To approve"
// badge, approves one request from its job page (the files reach the real sshd target) and rejects another with a
// reason (the target keeps its bytes); the developer then reads the reason and has no approve button.
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
const tokens: Record<string, string> = {};
const onTarget = () => fs.readFileSync(path.join(fleet.targets.a.dir, 'conf/app.ini'), 'utf8');

async function requestPublish(): Promise<number> {
  const res = await supertest(t.app).post('/api/projects/game/publish').set('Authorization', `Bearer ${tokens.dev}`)
    .send({ files: ['conf/app.ini'], groups: ['zone1'], note: 'hotfix 7' });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.jobId as number;
}

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a'], files: { 'trunk/conf/app.ini': 'v1\n' } });
  t = await startTestApp({ engine: realEngine() });
  await t.addUser('ops', 'admin');
  tokens.ops = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'ops');
  const api = supertest(t.app);
  const imported = await api.post('/api/import').set('Authorization', `Bearer ${tokens.ops}`).send(fleet.importDoc());
  expect(imported.status, JSON.stringify(imported.body)).toBe(201);
  await api.post('/api/projects/game/publish').set('Authorization', `Bearer ${tokens.ops}`).send({ files: ['conf'], groups: ['zone1'] }).expect(201);
  await t.jobs!.idle();
  expect(onTarget()).toBe('v1\n');
  await t.db.project.update({ where: { name: 'game' }, data: { requireApproval: true } });
  await fleet.svn.commit({ 'trunk/conf/app.ini': 'v2\n' }, 'v2');
  await t.addUser('dev', 'member', { game: ['publish'] });
  await t.addUser('lead', 'member', { game: ['approve'] });
  tokens.dev = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'dev');

  web = await startBrowserApp(t.app);
  ({ base, browser } = web);
}, 180_000);

afterAll(async () => {
  await web?.close();
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('approval in the browser', () => {
  it('the lead approves a request from its job page and the release runs', async () => {
    const jobId = await requestPublish();
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'lead');
    expect(await page.textContent('#nav-approvals .badge')).toBe('1');
    await page.locator(`#awaiting-approval a[href="/jobs/${jobId}"]`).first().click();
    await page.waitForURL(`${base}/jobs/${jobId}`);
    expect(await page.getAttribute('#job-status', 'data-status')).toBe('awaiting_approval');
    expect(await page.textContent('#approval-panel')).toMatch(/dev asked for this publish/);
    expect(await page.textContent('#job-note')).toBe('hotfix 7');
    await screenshot(page, 'approval-01-request');
    expect(onTarget()).toBe('v1\n');

    await page.click('#approve-button');
    await page.waitForSelector('#job-status[data-status="succeeded"]', { timeout: 60_000 });
    expect(await page.textContent('#job-approved-by')).toMatch(/^lead, /);
    expect(onTarget()).toBe('v2\n');
    await screenshot(page, 'approval-02-approved');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the lead rejects a request with a reason; the target is untouched and the developer sees why', async () => {
    await fleet.svn.commit({ 'trunk/conf/app.ini': 'v3\n' }, 'v3');
    const jobId = await requestPublish();
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'lead');
    await page.goto(`${base}/jobs/${jobId}`);
    // The reason is required: an empty one does not send anything.
    await page.click('#reject-button');
    expect(await page.getAttribute('#job-status', 'data-status')).toBe('awaiting_approval');
    await page.fill('#reject-reason', 'wait for the maintenance window');
    await page.click('#reject-button');
    await page.waitForSelector('#job-status[data-status="rejected"]');
    expect(await page.textContent('#rejection-reason')).toBe('wait for the maintenance window');
    await screenshot(page, 'approval-03-rejected');
    await t.jobs!.idle();
    expect(onTarget()).toBe('v2\n');
    expect(errors).toEqual([]);
    await page.close();

    const devPage = await browser.newPage();
    await web.signIn(devPage, 'dev');
    expect(await devPage.locator('#nav-approvals').count()).toBe(0);
    await devPage.goto(`${base}/jobs/${jobId}`);
    expect(await devPage.textContent('#approval-panel')).toMatch(/Rejected by lead .*: wait for the maintenance window/);
    expect(await devPage.locator('#approve-button, #retry-button, #rollback-button').count()).toBe(0);
    await devPage.close();
  });
});
