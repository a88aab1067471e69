// The whole publish flow in Simplified Chinese, in a real headless Chromium whose language is zh-CN: sign in, the
// dashboard, the publish page with a Chinese-named file in SVN, the confirm dialog's preview, the job page with its
// progress and timeline, then switching to English from the navigation bar. Each page is also scanned for English
// phrases of the message files that should have been shown in Chinese.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, PASSWORD, realEngine } from '../helpers/app.ts';
import { startBrowserApp, type BrowserApp, screenshot, collectPageErrors } from '../helpers/browser.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { englishPhrases } from '../../scripts/i18n.ts';

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let web: BrowserApp;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];
const node = (p: string) => `li[id="svn:${p}"]`;
const CHINESE_FILE = '配置/服务器.ini';
const CHINESE_BYTES = '[服务器]\n端口 = 7001\n名称 = 一区\n';

const ENGLISH_PHRASES = englishPhrases();

async function untranslated(p: Page): Promise<string[]> {
  const text = await p.evaluate<string>('document.body.innerText');
  return ENGLISH_PHRASES.filter((phrase) => text.includes(phrase));
}

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b'], files: { 'trunk/bin/start.sh': 'echo start\n', [`trunk/${CHINESE_FILE}`]: '[服务器]\n端口 = 7000\n' } });
  t = await startTestApp({ engine: realEngine() });
  await t.addUser('ops', 'admin');
  const token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'ops');
  const api = supertest(t.app);
  expect((await api.post('/api/import').set('Authorization', `Bearer ${token}`).send(fleet.importDoc())).status).toBe(201);
  await api.post('/api/projects/game/publish').set('Authorization', `Bearer ${token}`).send({ files: ['bin', '配置'], groups: ['zone1'] }).expect(201);
  await t.jobs!.idle();
  await fleet.svn.commit({ [`trunk/${CHINESE_FILE}`]: CHINESE_BYTES }, '端口改为 7001');

  web = await startBrowserApp(t.app);
  ({ base, browser } = web);
  // The browser's language: Chromium sends Accept-Language: zh-CN, and Intl formats dates in Chinese.
  context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 1000 } });
  page = await context.newPage();
  errors = collectPageErrors(page);
}, 180_000);

afterAll(async () => {
  await web?.close();
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('the interface in Chinese', () => {
  it('signs in and shows the dashboard in Chinese, following the browser language', async () => {
    await page.goto(`${base}/login`);
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    expect(await untranslated(page)).toEqual([]);
    await page.fill('#username', 'ops');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    expect(await page.textContent('nav')).toContain('仪表盘');
    expect(await page.textContent('nav')).toContain('退出登录');
    expect(await untranslated(page)).toEqual([]);
    await screenshot(page, 'zh-dashboard');
  });

  it('publishes a Chinese-named file: tree, confirm dialog, job page and timeline in Chinese', async () => {
    await page.goto(`${base}/projects/game/publish`);
    await page.waitForSelector(`${node('配置')} > a`);
    expect(await page.textContent(`${node('配置')} > a`)).toContain('配置');
    await page.click(`${node('配置')} > i.jstree-ocl`);
    await page.waitForSelector(`${node(CHINESE_FILE)} > a`);
    expect(await page.textContent(`${node(CHINESE_FILE)} > a`)).toContain('服务器.ini');
    // The log of the revision, with its Chinese message.
    await page.waitForFunction("document.body.innerText.includes('端口改为 7001')");
    expect(await untranslated(page)).toEqual([]);
    await page.click(`${node(CHINESE_FILE)} > a`);
    await page.check('input[data-group="zone1"]');
    await page.click('#publish-review');
    await page.waitForSelector('#publish-modal.show');
    await page.waitForSelector('[data-preview-host="a"] li[data-kind="changed"]');
    expect(await page.locator('[data-preview-host="a"] li[data-kind="changed"]').allTextContents()).toEqual([expect.stringContaining(CHINESE_FILE)]);
    expect(await untranslated(page)).toEqual([]);
    await page.waitForTimeout(400); // the modal's fade-in, for the screenshot
    await screenshot(page, 'zh-publish-confirm');
    await Promise.all([page.waitForURL(/\/jobs\/\d+$/), page.click('#publish-submit')]);
    await t.jobs!.idle();
    await page.waitForSelector('#job-timeline svg.job-timeline', { timeout: 60_000 });
    for (const host of ['a', 'b']) expect(fs.readFileSync(path.join(fleet.targets[host].dir, CHINESE_FILE), 'utf8')).toBe(CHINESE_BYTES);
    const body = await page.evaluate<string>('document.body.innerText');
    expect(body).toContain('成功');
    expect(await untranslated(page)).toEqual([]);
    await screenshot(page, 'zh-job');
  });

  it('switches to English from the navigation bar, and the choice is saved on the account', async () => {
    await page.goto(`${base}/jobs`);
    expect(await untranslated(page)).toEqual([]);
    await page.selectOption('#lang-select', 'en');
    await page.waitForSelector('html[lang="en"]');
    expect(page.url()).toBe(`${base}/jobs`);
    expect(await page.textContent('nav')).toContain('Sign out');
    expect((await t.db.user.findUniqueOrThrow({ where: { name: 'ops' } })).locale).toBe('en');
    expect(errors).toEqual([]);
  });
});
