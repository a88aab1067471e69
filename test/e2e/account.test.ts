// The My account page in a real headless Chromium: reach it from the navigation, create a token with an expiry
// (shown once), use it, revoke it with the page's button (and its confirmation), and see it refused at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Browser } from 'playwright-core';
import { startTestApp, PASSWORD } from '../helpers/app.ts';
import { startBrowserApp, type BrowserApp, screenshot, collectPageErrors } from '../helpers/browser.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;
let web: BrowserApp;
let base: string;
let browser: Browser;

beforeAll(async () => {
  t = await startTestApp();
  await t.addUser('mia', 'member');
  await t.addUser('ada', 'auditor');
  web = await startBrowserApp(t.app);
  ({ base, browser } = web);
}, 120_000);

afterAll(async () => {
  await web?.close();
  await t?.cleanup();
});

describe('My account page', () => {
  it('creates a token shown once, lists it, and revokes it with the Revoke button', async () => {
    const page = await browser.newPage();
    const errors = collectPageErrors(page);
    await web.signIn(page, 'mia');

    await Promise.all([page.waitForURL(`${base}/account`), page.click('nav a[href="/account"]')]);
    expect(await page.locator('#tokens').textContent()).toContain('No API tokens.');
    await page.fill('#f-note', 'release script');
    await page.fill('#f-expires', '30d');
    await page.click('#create-token');
    const token = (await page.locator('#new-token-value').textContent())?.trim() ?? '';
    expect(token).toMatch(/^fry_/);
    const row = page.locator('#tokens-table tbody tr');
    expect(await row.count()).toBe(1);
    expect(await row.first().textContent()).toContain('release script');
    expect(await row.first().locator('.badge').textContent()).toBe('active');
    await screenshot(page, 'account-token-created');

    const api = () => supertest(t.app).get('/api/projects').set('Authorization', `Bearer ${token}`);
    expect((await api()).status).toBe(200);

    let confirmText = '';
    page.once('dialog', (dialog) => {
      confirmText = dialog.message();
      void dialog.accept();
    });
    await Promise.all([page.waitForURL(`${base}/account#tokens`), row.first().locator('button', { hasText: 'Revoke' }).click()]);
    expect(confirmText).toMatch(/Revoke API token/);
    expect(await page.locator('.alert-success').textContent()).toMatch(/revoked/);
    expect(await page.locator('#tokens-table tbody tr .badge').textContent()).toBe('revoked');
    expect(await page.locator('#new-token-value').count()).toBe(0);
    expect((await api()).status).toBe(401);
    await screenshot(page, 'account-token-revoked');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('in Chinese: the revoke confirmation, and the operation log with action labels next to the codes', async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(`${base}/login`);
    expect(await page.locator('h1').textContent()).toBe('登录 Ferry');
    await page.fill('#username', 'ada');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    await page.goto(`${base}/account`);
    await page.fill('#f-note', 'audit export');
    await page.click('#create-token');
    let confirmText = '';
    page.once('dialog', (dialog) => {
      confirmText = dialog.message();
      void dialog.accept();
    });
    await Promise.all([page.waitForURL(`${base}/account#tokens`), page.locator('#tokens-table button', { hasText: '吊销' }).click()]);
    expect(confirmText).toMatch(/^确定吊销 API 令牌 #\d+（audit export）吗？/);
    expect(await page.locator('.alert-success').textContent()).toMatch(/已吊销，不能再使用/);

    await page.goto(`${base}/oplog`);
    const revokeRow = page.locator('#oplog-table tbody tr', { hasText: 'token.revoke' });
    await revokeRow.first().waitFor();
    expect(await revokeRow.first().textContent()).toContain('吊销 API 令牌');
    expect(await revokeRow.first().locator('.badge').textContent()).toBe('成功');
    // The action filter keeps the codes as values and reads as labels.
    expect(await page.locator('select[name=action] option[value="token.revoke"]').textContent()).toBe('吊销 API 令牌 (token.revoke)');
    // Searching for a code still finds its rows.
    await page.fill('#oplog-table_wrapper input[type=search], .dt-search input', 'token.create');
    const rowsAfterSearch = async () => {
      const rows = await page.locator('#oplog-table tbody tr').allTextContents();
      return rows.length > 0 && rows.every((row) => row.includes('token.create'));
    };
    await expect.poll(rowsAfterSearch, { timeout: 10_000 }).toBe(true);
    expect(errors).toEqual([]);
    await context.close();
  });
});
