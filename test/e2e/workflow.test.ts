// The whole seed workflow in a real headless Chromium: sign in, pick two files in the SVN tree and a group, publish
// (one host behind a jump host), watch live progress, roll back from the job page, restart a process group, read the
// history and the operation log; and a member without `publish` sees no publish button and gets 403 from the server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Browser } from 'playwright-core';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { startBrowserApp, type BrowserApp, screenshot, collectPageErrors } from '../helpers/browser.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

const CTL = `#!/bin/sh
pidfile="run/$2.pid"
alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
case "$1" in
  start) mkdir -p run; alive || { nohup sleep 4323 >/dev/null 2>&1 & echo $! > "$pidfile"; }; echo "started $2";;
  stop) alive && kill "$(cat "$pidfile")"; rm -f "$pidfile"; echo "stopped $2";;
  status) alive && { echo running; exit 0; }; echo "not running"; exit 3;;
esac
`;

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let web: BrowserApp;
let base: string;
let browser: Browser;
let token: string;
const read = (host: 'a' | 'b', rel: string) => fs.readFileSync(path.join(fleet.targets[host].dir, rel), 'utf8');

const node = (p: string) => `li[id="svn:${p}"]`;

beforeAll(async () => {
  fleet = await startFleet({
    targets: ['a', 'b'], behindRelay: ['b'],
    files: { 'trunk/conf/app.ini': 'level=1\n', 'trunk/conf/extra.ini': 'x=1\n', 'trunk/bin/ctl.sh': { content: CTL, executable: true }, 'trunk/bin/server': 'server v1\n' },
  });
  t = await startTestApp({ engine: realEngine() });
  await t.addUser('ops', 'admin');
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'ops');
  const api = supertest(t.app);
  const imported = await api.post('/api/import').set('Authorization', `Bearer ${token}`).send(fleet.importDoc({
    processes: [{ name: 'zone1', start: 'sh bin/ctl.sh start zone1', stop: 'sh bin/ctl.sh stop zone1', status: 'sh bin/ctl.sh status zone1', groups: ['zone1'] }],
  }));
  expect(imported.status, JSON.stringify(imported.body)).toBe(201);
  // The release already on the hosts before the browser publishes the next one.
  const seed = await api.post('/api/projects/game/publish').set('Authorization', `Bearer ${token}`).send({ files: ['conf', 'bin'], groups: ['zone1'] });
  await t.jobs!.idle();
  expect((await api.get(`/api/jobs/${seed.body.jobId}`).set('Authorization', `Bearer ${token}`)).body.status).toBe('succeeded');
  await fleet.svn.commit({ 'trunk/conf/app.ini': 'level=2\n', 'trunk/bin/server': 'server v2\n' }, 'level 2');
  await t.addUser('viewer', 'member', { game: [] });
  await t.db.grant.updateMany({ where: { user: { name: 'viewer' } }, data: { canProcess: true } });

  web = await startBrowserApp(t.app);
  ({ base, browser } = web);
}, 180_000);

afterAll(async () => {
  await web?.close();
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('browser workflow', () => {
  it('publishes two files picked in the tree to a group, shows live progress, and rolls back from the job page', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = collectPageErrors(page);
    await page.goto(`${base}/login`);
    await screenshot(page, '01-login');
    await web.signIn(page, 'ops');
    await page.locator('tr[data-project="game"]').waitFor();
    expect(await page.locator('tr[data-project="game"]').count()).toBe(1);
    await screenshot(page, '02-dashboard');

    // An after-publish hook holds every host in its "hooks" phase until the test opens the gate, so the page can be
    // seen showing the job running before it shows the end (the hook gives up after 60 s so nothing hangs).
    const gate = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-e2e-gate-')), 'open');
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    const hold = await t.db.hook.create({ data: { projectId: project.id, name: 'hold', stage: 'after-publish', runOn: 'target',
      script: `echo "held on $FERRY_HOST"; i=0; while [ ! -e '${gate}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done` } });

    await page.click('tr[data-project="game"] a:has-text("Publish")');
    await page.waitForSelector(`${node('conf')} > a`);
    await page.click(`${node('conf')} > i.jstree-ocl`);
    await page.click(`${node('bin')} > i.jstree-ocl`);
    await page.click(`${node('conf/app.ini')} > a`);
    await page.click(`${node('bin/server')} > a`);
    await page.check('input[data-group="zone1"]');
    await page.waitForSelector('#log-table tbody tr');
    await screenshot(page, '03-publish');
    await page.click('#publish-review');
    await page.waitForSelector('#publish-modal.show');
    expect(await page.textContent('#confirm-files')).toContain('conf/app.ini');
    expect(await page.textContent('#confirm-files')).toContain('bin/server');
    expect(await page.textContent('#confirm-hosts')).toMatch(/a[\s\S]*b/);
    await page.fill('#publish-note', 'browser test');
    await page.waitForTimeout(400); // let the modal's fade-in finish so the screenshot shows it
    await screenshot(page, '04-publish-confirm');
    await Promise.all([page.waitForURL(/\/jobs\/\d+$/), page.click('#publish-submit')]);

    try {
      // Live: both hosts reach the hook while the job runs, and their output arrives before the job ends.
      for (const host of ['a', 'b']) {
        await page.waitForSelector(`tr[data-host="${host}"][data-status="running"] .host-phase-name:text-is("hooks")`, { timeout: 30_000 });
        await expect.poll(() => page.locator(`tr[data-output-for="${host}"] pre`).textContent(), { timeout: 15_000 }).toContain(`held on ${host}`);
      }
      expect(await page.getAttribute('#job-status', 'data-status')).toBe('running');
      expect(read('a', 'conf/app.ini')).toBe('level=2\n'); // extracted already; only the hook holds the job
      await screenshot(page, '05-job-progress');
    } finally {
      fs.writeFileSync(gate, ''); // never leave the hosts held, even when the page failed to show them
    }
    // The same page, not reloaded, follows the job to its end.
    await page.waitForSelector('#job-status[data-status="succeeded"]', { timeout: 60_000 });
    await t.db.hook.delete({ where: { id: hold.id } });
    for (const host of ['a', 'b']) {
      expect(await page.getAttribute(`tr[data-host="${host}"]`, 'data-status')).toBe('succeeded');
      expect(await page.textContent(`tr[data-host="${host}"] .host-phase-name`)).toBe('done');
    }
    expect(await page.textContent('#job-result')).toMatch(/succeeded on all 2 host\(s\)/);
    await screenshot(page, '05b-job-done');
    for (const host of ['a', 'b'] as const) {
      expect(read(host, 'conf/app.ini')).toBe('level=2\n');
      expect(read(host, 'bin/server')).toBe('server v2\n');
    }
    const publishUrl = page.url();
    // Reloading shows the same job from the database.
    await page.reload();
    await page.waitForSelector('#job-status[data-status="succeeded"]');

    await page.click('#rollback-button');
    await page.waitForSelector('#rollback-confirm:not([disabled])');
    await page.waitForTimeout(400);
    await screenshot(page, '06-rollback-confirm');
    await Promise.all([page.waitForURL((url) => /\/jobs\/\d+$/.test(url.pathname) && url.href !== publishUrl), page.click('#rollback-confirm')]);
    await page.waitForSelector('#job-status[data-status="succeeded"]', { timeout: 60_000 });
    await screenshot(page, '07-rollback-job');
    for (const host of ['a', 'b'] as const) {
      expect(read(host, 'conf/app.ini')).toBe('level=1\n');
      expect(read(host, 'bin/server')).toBe('server v1\n');
    }
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  }, 150_000);

  it('restarts a process group from the processes page and shows its new status', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'ops');
    await page.goto(`${base}/projects/game/processes`);
    await page.click('tr.process-group-row[data-process="zone1"][data-group="zone1"] button[data-action="restart"]');
    await page.waitForSelector('#process-confirm.show');
    await page.fill('#process-batch-size', '1'); // rolling: one host at a time, status checked after each
    await page.click('#process-confirm-ok');
    // The restart job's own status badge, not a host row: the rolling restart must be over before the status check.
    await page.waitForSelector('#process-jobs .process-job .job-status[data-status="succeeded"]', { timeout: 60_000 });
    // The job this page started (not any restart job in the database) was a rolling one.
    const restartJobId = Number(await page.getAttribute('#process-jobs .process-job', 'data-job-id'));
    await page.click('#refresh-status');
    for (const host of ['a', 'b']) {
      await page.waitForSelector(`.process-status[data-process="zone1"][data-host="${host}"][data-state="running"]`, { timeout: 60_000 });
    }
    await screenshot(page, '08-processes');
    expect(fs.existsSync(path.join(fleet.targets.a.dir, 'run/zone1.pid'))).toBe(true);
    const rolling = await t.db.job.findUniqueOrThrow({ where: { id: restartJobId } });
    expect(rolling.kind).toBe('process');
    expect(JSON.parse(rolling.params)).toMatchObject({ action: 'restart', batchSize: 1 });
    await page.goto(`${base}/jobs`);
    await page.waitForSelector('table tbody tr a[href^="/jobs/"]');
    await screenshot(page, '09-history');
    await page.goto(`${base}/oplog`);
    await page.waitForSelector('#oplog-table tbody tr a[href^="/jobs/"]');
    await screenshot(page, '10-oplog');
    await page.goto(`${base}/admin/hosts`);
    for (const host of ['relay', 'a', 'b']) await page.locator(`#hosts-table tr[data-host="${host}"]`).waitFor();
    await screenshot(page, '11-hosts');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('checking an opened folder checks what is loaded below it, and unchecking one file leaves the folder unchecked', async () => {
    // Exercises the ticks public/js/lib/tree-selection.js decides (jsTree's own cascade is off; jsTree pinned in package.json).
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'ops');
    await page.goto(`${base}/projects/game/publish`);
    await page.waitForSelector(`${node('conf')} > a`);
    expect(await page.evaluate(`$('#file-tree').jstree(true).settings.checkbox.cascade`)).toBe('');
    await page.click(`${node('conf')} > i.jstree-ocl`);
    await page.waitForSelector(`${node('conf/extra.ini')} > a`);
    const checked = (p: string) => page.getAttribute(`${node(p)} > a`, 'aria-selected');

    await page.click(`${node('conf')} > a`);
    for (const p of ['conf', 'conf/app.ini', 'conf/extra.ini']) expect(await checked(p), p).toBe('true');
    await expect.poll(() => page.textContent('#selection-summary')).toBe('1 path selected');

    await page.click(`${node('conf/extra.ini')} > a`);
    expect(await checked('conf')).toBe('false');
    expect(await checked('conf/app.ini')).toBe('true');
    expect(await checked('conf/extra.ini')).toBe('false');
    await page.check('input[data-group="zone1"]');
    await page.click('#publish-review');
    await page.waitForSelector('#publish-modal.show');
    expect((await page.locator('#confirm-files li').allTextContents())).toEqual(['conf/app.ini']);
    await page.click('#publish-modal button[data-bs-dismiss="modal"]');
    await page.waitForSelector('#publish-modal', { state: 'hidden' });

    // Checking the last unchecked file checks its folder again (cascade up), and the folder is sent as one path.
    await page.click(`${node('conf/extra.ini')} > a`);
    expect(await checked('conf')).toBe('true');
    await page.click('#publish-review');
    await page.waitForSelector('#publish-modal.show');
    expect((await page.locator('#confirm-files li').allTextContents())).toEqual(['conf']);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });

  it('loads every page that has a script without a browser error, and the admin "Test" buttons report back', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = collectPageErrors(page);
    await web.signIn(page, 'ops');
    const host = await t.db.host.findUniqueOrThrow({ where: { name: 'a' } });
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    const lastJob = await t.db.job.findFirstOrThrow({ orderBy: { id: 'desc' } });
    // A module that fails to load or to link (a missing export) shows here as a pageerror, a console error or a 404.
    const visit = async (url: string) => {
      await page.goto(`${base}${url}`, { waitUntil: 'networkidle' });
      expect(errors, `${url}\n${errors.join('\n')}`).toEqual([]);
    };
    for (const url of ['/', '/jobs', `/jobs/${lastJob.id}`, '/oplog', '/projects/game/publish', '/projects/game/processes',
      '/admin/hosts', '/admin/projects', '/account']) await visit(url);
    await visit(`/admin/hosts/${host.id}`);
    await page.click('#test-host');
    await page.waitForSelector('#host-test-result .alert-success');
    expect(await page.textContent('#host-test-result')).toMatch(/Connected to a [\s\S]*Host key: /);
    await visit(`/admin/projects/${project.id}`);
    await page.click('#test-svn');
    await page.waitForSelector('#svn-test-result .alert-success');
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });

  it('a member without publish sees no publish button, and the server refuses a direct POST with 403', async () => {
    const page = await browser.newPage();
    await web.signIn(page, 'viewer');
    const errors = collectPageErrors(page);
    expect(await page.locator('tr[data-project="game"]').count()).toBe(1);
    expect(await page.locator('a[href="/projects/game/publish"]').count()).toBe(0);
    const jobsBefore = await t.db.job.count();
    // Runs in the page (a string, so this file needs no DOM types): the same request a crafted button would send.
    const status = (await page.evaluate(`(async () => {
      const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
      const res = await fetch('/api/projects/game/publish', { method: 'POST', headers: { 'Content-Type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ files: ['conf'], groups: ['zone1'] }) });
      return { status: res.status, body: await res.json() };
    })()`)) as { status: number; body: { error: string } };
    expect(status.status).toBe(403);
    expect(status.body.error).toMatch(/permission to publish/);
    expect(await t.db.job.count()).toBe(jobsBefore);
    const direct = await page.goto(`${base}/projects/game/publish`);
    expect(direct?.status()).toBe(403);
    await screenshot(page, '12-member-forbidden');
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  });
});
