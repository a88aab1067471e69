// The project page's Notifications section through the real app: add, edit, delete and "Send test" (against a real
// HTTP receiver), the URL's query and the secret never shown back, admins only, every change in the operation log;
// and the project form's approval settings.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptSecret } from '../../src/lib/crypto.ts';
import { csrf, startTestApp, type Agent } from '../helpers/app.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;
let admin: Agent;
let token: string;
let base: string;
let projectId: number;
let receiver: http.Server;
let receiverUrl: string;
const received: { url: string; body: string }[] = [];

const TOKEN = 'robot-access-token-0123456789';
const SECRET = 'SEC-signing-secret-abc';

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body });
      if (req.url?.startsWith('/missing')) return res.writeHead(404).end('no such robot');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  t = await startTestApp();
  admin = await t.login('root', 'admin');
  token = await csrf(admin, '/admin/projects');
  projectId = (await t.db.project.create({ data: { name: 'game', svnUrl: 'svn://127.0.0.1/game', deployDir: '/srv/game' } })).id;
  base = `/admin/projects/${projectId}`;
});
afterAll(async () => {
  receiver?.closeAllConnections();
  receiver?.close();
  await t?.cleanup();
});

const form = (agent: Agent, path: string, body: Record<string, unknown>, csrfToken = token) =>
  agent.post(path).type('form').send({ _csrf: csrfToken, ...body });

describe('notification channels on the project page', () => {
  it('adds a channel, lists it by its URL hint, and never shows the URL query or the secret', async () => {
    const added = await form(admin, `${base}/notifications`, {
      name: 'ops-ding', kind: 'dingtalk', url: `${receiverUrl}/robot/send?access_token=${TOKEN}`, secret: SECRET, to: '', events: ['publish.failed', 'publish.partial'],
    });
    expect(added.status).toBe(302);
    expect(added.headers.location).toBe(`${base}#notifications`);
    const row = await t.db.notificationChannel.findFirstOrThrow({ where: { name: 'ops-ding' } });
    expect(row).toMatchObject({ kind: 'dingtalk', urlHint: `${receiverUrl}/robot/send`, events: '["publish.failed","publish.partial"]', enabled: true });
    expect(decryptSecret(t.config.secretKey, row.urlEnc!)).toBe(`${receiverUrl}/robot/send?access_token=${TOKEN}`);
    expect(decryptSecret(t.config.secretKey, row.secretEnc!)).toBe(SECRET);

    const page = await admin.get(base);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Notification channel &#34;ops-ding&#34; added');
    expect(page.text).toContain(`${receiverUrl}/robot/send`);
    expect(page.text).toContain('Publish failed, Publish failed on some hosts');
    const edit = await admin.get(`${base}/notifications/${row.id}`);
    expect(edit.status).toBe(200);
    for (const text of [page.text, edit.text]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(SECRET);
    }
    const log = await t.db.opLog.findMany({ where: { action: 'notify.create' } });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ project: 'game', target: `ops-ding (${receiverUrl}/robot/send)`, result: 'ok' });
    expect(JSON.stringify(log)).not.toContain(TOKEN);
  });

  it('re-renders a failed form with the problem and what was typed, except the URL and secret', async () => {
    const res = await form(admin, `${base}/notifications`, { name: 'mail', kind: 'email', to: 'not-an-address', url: `https://x.example/?k=${TOKEN}`, secret: SECRET });
    expect(res.status).toBe(400);
    expect(res.text).toContain('must be e-mail addresses separated by commas');
    expect(res.text).toMatch(/class="collapse show[^"]*" id="add-notification"/);
    expect(res.text).toContain('value="not-an-address"');
    expect(res.text).not.toContain(TOKEN);
    expect(res.text).not.toContain(SECRET);
    const noUrl = await form(admin, `${base}/notifications`, { name: 'slack', kind: 'slack' });
    expect(noUrl.status).toBe(400);
    expect(noUrl.text).toContain('required for this kind of channel');
    const taken = await form(admin, `${base}/notifications`, { name: 'ops-ding', kind: 'slack', url: 'https://hooks.example/x' });
    expect(taken.status).toBe(409);
    expect(await t.db.notificationChannel.count()).toBe(1);
  });

  it('keeps the URL and secret when their fields are left empty, and replaces or clears them when asked', async () => {
    const row = await t.db.notificationChannel.findFirstOrThrow({ where: { name: 'ops-ding' } });
    const kept = await form(admin, `${base}/notifications/${row.id}`, { name: 'ops-ding', kind: 'dingtalk', url: '', secret: '', events: 'publish.failed' });
    expect(kept.status).toBe(302);
    let after = await t.db.notificationChannel.findUniqueOrThrow({ where: { id: row.id } });
    expect(after.urlEnc).toBe(row.urlEnc);
    expect(after.secretEnc).toBe(row.secretEnc);
    expect(after.events).toBe('["publish.failed"]');
    expect((await t.db.opLog.findFirstOrThrow({ where: { action: 'notify.update' }, orderBy: { id: 'desc' } })).detail).toBe('changed: events');

    await form(admin, `${base}/notifications/${row.id}`, { name: 'ops-ding', kind: 'dingtalk', url: `${receiverUrl}/robot/send?access_token=new-${TOKEN}`, clearSecret: '1' });
    after = await t.db.notificationChannel.findUniqueOrThrow({ where: { id: row.id } });
    expect(decryptSecret(t.config.secretKey, after.urlEnc!)).toBe(`${receiverUrl}/robot/send?access_token=new-${TOKEN}`);
    expect(after.secretEnc).toBeNull();
    expect(after.events).toBe('');
    expect((await t.db.opLog.findFirstOrThrow({ where: { action: 'notify.update' }, orderBy: { id: 'desc' } })).detail).toBe('changed: events, url, secret');
  });

  it('"Send test" sends at once and shows the outcome, then the list shows the last delivery', async () => {
    const row = await t.db.notificationChannel.findFirstOrThrow({ where: { name: 'ops-ding' } });
    const before = received.length;
    const res = await form(admin, `${base}/notifications/${row.id}/test`, {});
    expect(res.status).toBe(302);
    expect(received.length).toBe(before + 1);
    expect(received[before].url).toBe(`/robot/send?access_token=new-${TOKEN}`);
    expect(JSON.parse(received[before].body).markdown.title).toBe('[Ferry] game: test message');
    let page = await admin.get(base);
    expect(page.text).toContain(`Test message sent to &#34;ops-ding&#34; (${receiverUrl}/robot/send).`);
    expect(page.text).toMatch(/sent just now/);

    await form(admin, `${base}/notifications/${row.id}`, { name: 'ops-ding', kind: 'dingtalk', url: `${receiverUrl}/missing?access_token=${TOKEN}` });
    await form(admin, `${base}/notifications/${row.id}/test`, {});
    page = await admin.get(base);
    expect(page.text).toContain('The test message to &#34;ops-ding&#34; failed: HTTP 404: no such robot');
    expect(page.text).toContain('failed just now: HTTP 404: no such robot');
    expect(page.text).not.toContain(TOKEN);
    const edit = await admin.get(`${base}/notifications/${row.id}`);
    expect(edit.text).toMatch(/Last delivery:\s*<span class="text-danger">failed just now \([^)]+\): HTTP 404: no such robot/);
    const log = await t.db.opLog.findMany({ where: { action: 'notify.test' }, orderBy: { id: 'asc' } });
    expect(log.map((l) => l.result)).toEqual(['ok', 'failed']);
  });

  it('lets an auditor read the list but refuses every change with 403', async () => {
    const auditor = await t.login('audrey', 'auditor');
    const auditorToken = await csrf(auditor, base);
    const row = await t.db.notificationChannel.findFirstOrThrow({ where: { name: 'ops-ding' } });
    const page = await auditor.get(base);
    expect(page.status).toBe(200);
    expect(page.text).toContain('ops-ding');
    expect(page.text).not.toContain('Send test');
    const sentBefore = received.length;
    for (const path of [`${base}/notifications`, `${base}/notifications/${row.id}`, `${base}/notifications/${row.id}/test`, `${base}/notifications/${row.id}/delete`]) {
      expect((await form(auditor, path, { name: 'x', kind: 'slack', url: 'https://x.example/' }, auditorToken)).status).toBe(403);
    }
    expect(received.length).toBe(sentBefore);
    expect(await t.db.notificationChannel.count()).toBe(1);
  });

  it('refuses a change without the CSRF token', async () => {
    const res = await admin.post(`${base}/notifications`).type('form').send({ name: 'sneaky', kind: 'slack', url: 'https://x.example/' });
    expect(res.status).toBe(403);
    expect(await t.db.notificationChannel.count({ where: { name: 'sneaky' } })).toBe(0);
  });

  it('deletes a channel and logs it', async () => {
    const row = await t.db.notificationChannel.findFirstOrThrow({ where: { name: 'ops-ding' } });
    const res = await form(admin, `${base}/notifications/${row.id}/delete`, {});
    expect(res.status).toBe(302);
    expect(await t.db.notificationChannel.count()).toBe(0);
    expect(await t.db.opLog.count({ where: { action: 'notify.delete', target: { startsWith: 'ops-ding' } } })).toBe(1);
  });
});

describe('approval settings in the project form', () => {
  it('saves the approval settings, keeps the hours when the form leaves them out, and refuses hours out of range', async () => {
    const fields = { name: 'game', description: '', svnUrl: 'svn://127.0.0.1/game', svnUsername: '', svnPassword: '', deployDir: '/srv/game', keepSnapshots: '10', concurrency: '10' };
    expect((await form(admin, base, { ...fields, requireApproval: '1', approvalHours: '12' })).status).toBe(302);
    expect(await t.db.project.findUniqueOrThrow({ where: { id: projectId } })).toMatchObject({ requireApproval: true, rollbackNeedsApproval: false, approvalHours: 12 });
    expect((await t.db.opLog.findFirstOrThrow({ where: { action: 'project.update' }, orderBy: { id: 'desc' } })).detail).toBe('changed: requireApproval, approvalHours');

    expect((await form(admin, base, { ...fields, requireApproval: '1', rollbackNeedsApproval: '1' })).status).toBe(302);
    expect(await t.db.project.findUniqueOrThrow({ where: { id: projectId } })).toMatchObject({ requireApproval: true, rollbackNeedsApproval: true, approvalHours: 12 });

    const bad = await form(admin, base, { ...fields, approvalHours: '721' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('must be at most 720');
    const page = await admin.get(base);
    expect(page.text).toMatch(/id="f-requireApproval"[^>]*checked/);

    const created = await form(admin, '/admin/projects', { ...fields, name: 'shop' });
    expect(created.status).toBe(302);
    expect(await t.db.project.findUniqueOrThrow({ where: { name: 'shop' } })).toMatchObject({ requireApproval: false, rollbackNeedsApproval: false, approvalHours: 24 });
  });
});

describe('notification channels in Chinese', () => {
  it('shows the form, its problems and the flash messages in Chinese', async () => {
    const zhForm = (path: string, body: Record<string, unknown>) => form(admin, path, body).set('Accept-Language', 'zh-CN');
    const page = await admin.get(base).set('Accept-Language', 'zh-CN');
    expect(page.text).toContain('添加渠道');
    expect(page.text).toContain('钉钉机器人');

    const bad = await zhForm(`${base}/notifications`, { name: 'zh-mail', kind: 'email', to: '' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('邮件渠道必填');

    const added = await zhForm(`${base}/notifications`, { name: 'zh-mail', kind: 'email', to: 'ops@example.com' });
    expect(added.status).toBe(302);
    expect((await admin.get(base).set('Accept-Language', 'zh-CN')).text).toContain('通知渠道“zh-mail”已添加。可用“发送测试”检查是否可用。');
    const row = await t.db.notificationChannel.findFirstOrThrow({ where: { name: 'zh-mail' } });
    expect((await zhForm(`${base}/notifications/${row.id}/delete`, {})).status).toBe(302);
    expect((await admin.get(base).set('Accept-Language', 'zh-CN')).text).toContain('通知渠道“zh-mail”已删除。');
  });
});
