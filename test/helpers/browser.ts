// Debian's headless Chromium driven by playwright-core (never a downloaded browser), plus screenshots for review.
import fs from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PASSWORD } from './app.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve(import.meta.dirname, '../e2e/screenshots');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Flags that keep Chromium from reaching out to the internet (this network is closed) or needing a sandbox as root.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Fails the test on any browser console error or CSP violation (they mean a broken page). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // Expected refusals (403/409) are shown to the user as alerts; a 404 is reported with its URL below.
    if (msg.type() === 'error' && !/status of 40[349]/.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() === 404) errors.push(`404: ${res.url()}`);
  });
  return errors;
}

export interface BrowserApp {
  /** http://127.0.0.1:<port> of the app. */
  base: string;
  browser: Browser;
  /** Signs `page` in as `name` (password PASSWORD) and waits for the dashboard. */
  signIn(page: Page, name: string): Promise<void>;
  /** Closes the browser and stops listening. */
  close(): Promise<void>;
}

/** Serves `app` on a free 127.0.0.1 port and starts Chromium: the setup every browser test shares. */
export async function startBrowserApp(app: Express): Promise<BrowserApp> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await launchBrowser();
  return {
    base,
    browser,
    async signIn(page, name) {
      await page.goto(`${base}/login`);
      await page.fill('#username', name);
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    },
    async close() {
      await browser.close();
      // Live pages hold event streams open: drop every connection rather than wait for them.
      server.close();
      server.closeAllConnections();
    },
  };
}
