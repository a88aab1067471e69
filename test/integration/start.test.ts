// The README's quick start, for real: `npm start` builds dist/, comes up on a fresh SQLite database with a first admin
// whose generated password is printed once, and a SIGTERM to npm stops the server (the start script execs node).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../kit/svnserve.ts';
import { REPO_ROOT } from '../kit/server-process.ts';
import { waitFor } from '../helpers/wait.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-start-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

it('npm start comes up with a usable first admin and stops on SIGTERM', async () => {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  delete env.FERRY_ADMIN_PASSWORD;
  delete env.FERRY_SECRET_KEY;
  const npm = spawn('npm', ['start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
  npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
  try {
    const password = await waitFor(() => /created user "admin" with password: (\S+)/.exec(out)?.[1], 'the first admin password', 90_000);
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/login`).catch(() => null))?.ok ? true : undefined), 'the login page');
    expect(fs.existsSync(path.join(dataDir, 'ferry.db'))).toBe(true);

    // The printed password signs in (the login form needs its CSRF token and the ferry.login cookie it is bound to).
    const page = await fetch(`http://127.0.0.1:${port}/login`);
    const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const login = await fetch(`http://127.0.0.1:${port}/login`, {
      method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, username: 'admin', password }).toString(),
    });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).not.toContain('/login');
  } finally {
    npm.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  }
  expect(npm.exitCode !== null || npm.signalCode !== null).toBe(true);
  // The server itself is gone too, not orphaned behind npm.
  await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/login`).catch(() => null)) === null ? true : undefined), 'the server to stop', 15_000);
}, 150_000);
