// Notification delivery against real receivers: an HTTP server on 127.0.0.1 checks each kind's payload and signature,
// a real SMTP server receives the e-mail, and a receiver that fails first shows the retry and the give-up.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannel, testChannel } from '../../src/services/config/notifications.ts';
import { notify, NotificationWorker, type NotifyEvent } from '../../src/services/notify/index.ts';
import { adminCtx, createTestDb, type TestDb } from '../kit/db.ts';
import { waitFor } from '../helpers/wait.ts';

interface Received { path: string; query: URLSearchParams; headers: http.IncomingHttpHeaders; body: string }

/** An HTTP receiver: records every request; `answers[path]` is a list of [status, body] used in turn (the last repeats). */
function startReceiver(answers: Record<string, [number, string, Record<string, string>?][]>) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      received.push({ path: url.pathname, query: url.searchParams, headers: req.headers, body });
      const list = answers[url.pathname] ?? [[200, 'ok']];
      const [status, text, headers] = list.length > 1 ? list.shift()! : list[0];
      if (status === 0) return; // never answers
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(text);
    });
  });
  return new Promise<{ url: string; received: Received[]; close: () => Promise<void> }>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`, received,
        close: () => new Promise((done) => { server.closeAllConnections(); server.close(() => done()); }),
      });
    });
  });
}

function startSmtp() {
  const mails: { from: string; to: string[]; data: string }[] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], logger: false,
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (c: Buffer) => (data += c.toString('utf8')));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
        callback();
      });
    },
  });
  return new Promise<{ url: string; mails: typeof mails; close: () => Promise<void> }>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.server.address() as AddressInfo;
      resolve({ url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

const event = (over: Partial<NotifyEvent> = {}): NotifyEvent => ({
  event: 'publish.partial', project: 'game', jobId: 42, kind: 'publish', status: 'partial', revision: 120, user: 'alice',
  hostCount: 3, failedHosts: ['zone2-a'], reason: 'zone2-a: disk full', ...over,
});

describe('notification delivery', () => {
  let t: TestDb;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let worker: NotificationWorker;
  let projectId: number;
  const add = (body: Record<string, unknown>) => createChannel(t.svc, adminCtx(), projectId, body);
  /** notify() queues in the background: waits until `rows` deliveries exist, then until nothing is due. */
  const queuedThenIdle = async (rows: number) => {
    await waitFor(async () => ((await t.db.notificationDelivery.count()) >= rows ? true : undefined), `${rows} queued deliveries`, 5000, 10);
    await worker.idle();
  };

  beforeAll(async () => {
    t = await createTestDb();
    receiver = await startReceiver({
      '/ding': [[200, '{"errcode":0,"errmsg":"ok"}']],
      '/wecom': [[200, '{"errcode":0,"errmsg":"ok"}']],
      '/feishu/hook': [[200, '{"code":0,"msg":"success"}']],
      '/flaky': [[500, 'try later'], [200, 'ok']],
      '/refuses': [[200, '{"errcode":310000,"errmsg":"sign not match"}']],
      '/gone': [[404, 'no such hook']],
      '/moved': [[302, '', { location: 'http://elsewhere.example/' }]],
      '/silent': [[0, '']],
    });
    smtp = await startSmtp();
    projectId = (await t.db.project.create({ data: { name: 'game', svnUrl: 'svn://x/game', deployDir: '/srv/game' } })).id;
    worker = new NotificationWorker(t.svc, { publicUrl: 'https://ferry.example', smtp: { url: smtp.url, from: 'Ferry <ferry@example.test>' } },
      { retryDelaysMs: [50, 50], pollMs: 20, timeoutMs: 1000 });
    worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await receiver?.close();
    await smtp?.close();
    await t?.cleanup();
  });

  const bodyOf = (path: string) => {
    const hits = receiver.received.filter((r) => r.path === path);
    expect(hits.length).toBeGreaterThan(0);
    return hits[hits.length - 1];
  };

  it('sends each robot kind its own message shape and signature, with the job link', async () => {
    await add({ name: 'ding', kind: 'dingtalk', url: `${receiver.url}/ding?access_token=tok123`, secret: 'SECdingsecret' });
    await add({ name: 'wecom', kind: 'wecom', url: `${receiver.url}/wecom?key=k1` });
    await add({ name: 'feishu', kind: 'feishu', url: `${receiver.url}/feishu/hook`, secret: 'feishu-secret' });
    await add({ name: 'slack', kind: 'slack', url: `${receiver.url}/slack` });
    await add({ name: 'hook', kind: 'webhook', url: `${receiver.url}/webhook`, secret: 'hmac-key' });
    notify(t.svc, event());
    await queuedThenIdle(5);

    const ding = bodyOf('/ding');
    expect(ding.query.get('access_token')).toBe('tok123');
    const ts = ding.query.get('timestamp')!;
    expect(Math.abs(Number(ts) - Date.now())).toBeLessThan(60_000);
    expect(ding.query.get('sign')).toBe(crypto.createHmac('sha256', 'SECdingsecret').update(`${ts}\nSECdingsecret`).digest('base64'));
    const dingBody = JSON.parse(ding.body) as { msgtype: string; markdown: { title: string; text: string } };
    expect(dingBody.msgtype).toBe('markdown');
    expect(dingBody.markdown.title).toBe('[Ferry] game: publish partly failed (r120)');
    expect(dingBody.markdown.text).toContain('By: alice');
    expect(dingBody.markdown.text).toContain('Failed on 1: zone2-a');
    expect(dingBody.markdown.text).toContain('(https://ferry.example/jobs/42)');

    const wecom = JSON.parse(bodyOf('/wecom').body) as { msgtype: string; markdown: { content: string } };
    expect(wecom.msgtype).toBe('markdown');
    expect(wecom.markdown.content).toContain('Project: game');

    const feishu = JSON.parse(bodyOf('/feishu/hook').body) as { timestamp: string; sign: string; msg_type: string; content: { text: string } };
    expect(feishu.msg_type).toBe('text');
    expect(feishu.sign).toBe(crypto.createHmac('sha256', `${feishu.timestamp}\nfeishu-secret`).update('').digest('base64'));
    expect(feishu.content.text).toContain('Job page: https://ferry.example/jobs/42');

    const slack = JSON.parse(bodyOf('/slack').body) as Record<string, unknown>;
    expect(Object.keys(slack)).toEqual(['text']);
    expect(slack.text).toContain('Revision: r120');

    const hook = bodyOf('/webhook');
    expect(hook.headers['x-ferry-event']).toBe('publish.partial');
    const hts = hook.headers['x-ferry-timestamp'] as string;
    expect(hook.headers['x-ferry-signature']).toBe(`sha256=${crypto.createHmac('sha256', 'hmac-key').update(`${hts}.${hook.body}`).digest('hex')}`);
    expect(JSON.parse(hook.body)).toMatchObject({ event: 'publish.partial', project: 'game', jobId: 42, revision: 120, user: 'alice', failedHosts: ['zone2-a'], url: 'https://ferry.example/jobs/42' });

    const rows = await t.db.notificationDelivery.findMany();
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    const channels = await t.db.notificationChannel.findMany();
    expect(channels.every((c) => c.lastStatus === 'sent' && c.lastAt)).toBe(true);
    // Only scheme, host and path are kept in clear; the access token lives in the encrypted URL.
    expect(channels.find((c) => c.name === 'ding')!.urlHint).toBe(`${receiver.url}/ding`);
    expect(JSON.stringify(channels)).not.toContain('tok123');
  });

  it('only queues for channels that subscribe to the event, and never for disabled ones', async () => {
    await t.db.notificationChannel.deleteMany();
    await t.db.notificationDelivery.deleteMany();
    await add({ name: 'failures', kind: 'slack', url: `${receiver.url}/only-failures`, events: ['publish.failed'] });
    await add({ name: 'off', kind: 'slack', url: `${receiver.url}/off` });
    await t.db.notificationChannel.update({ where: { projectId_name: { projectId, name: 'off' } }, data: { enabled: false } });
    const before = receiver.received.length;
    notify(t.svc, event({ event: 'publish.succeeded', status: 'succeeded', failedHosts: [] }));
    notify(t.svc, event({ event: 'publish.failed', status: 'failed' }));
    await queuedThenIdle(1);
    await new Promise((r) => setTimeout(r, 100));
    await worker.idle();
    expect(await t.db.notificationDelivery.count()).toBe(1);
    expect(receiver.received.slice(before).map((r) => r.path)).toEqual(['/only-failures']);
  });

  it('retries a failed delivery after the backoff and records the failure in the operation log', async () => {
    await t.db.notificationChannel.deleteMany();
    await add({ name: 'flaky', kind: 'slack', url: `${receiver.url}/flaky?token=hidden-token` });
    notify(t.svc, event());
    await queuedThenIdle(1);
    await waitFor(async () => ((await t.db.notificationDelivery.findFirst({ where: { status: 'sent', channel: { name: 'flaky' } } })) ?? undefined), 'the retry', 5000, 20);
    const row = await t.db.notificationDelivery.findFirstOrThrow({ where: { channel: { name: 'flaky' } } });
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(receiver.received.filter((r) => r.path === '/flaky')).toHaveLength(2);
    const log = await t.db.opLog.findMany({ where: { action: 'notify.failed', target: { startsWith: 'flaky' } } });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ project: 'game', jobId: 42, result: 'failed' });
    expect(log[0].detail).toContain('HTTP 500');
    expect(log[0].target).toBe(`flaky (${receiver.url}/flaky)`);
    expect(JSON.stringify(log)).not.toContain('hidden-token');
  });

  it('gives up after the last retry, and treats robot errors, 404s, redirects and silence as failures', async () => {
    await t.db.notificationChannel.deleteMany();
    await add({ name: 'refuses', kind: 'dingtalk', url: `${receiver.url}/refuses` });
    await add({ name: 'gone', kind: 'webhook', url: `${receiver.url}/gone` });
    await add({ name: 'moved', kind: 'slack', url: `${receiver.url}/moved` });
    await add({ name: 'silent', kind: 'slack', url: `${receiver.url}/silent` });
    notify(t.svc, event());
    const giveUps = () => t.db.opLog.count({ where: { action: 'notify.give-up' } });
    await waitFor(async () => ((await giveUps()) >= 4 ? true : undefined), 'four give-ups', 15_000, 20);
    const rows = await t.db.notificationDelivery.findMany({ where: { channel: { name: { in: ['refuses', 'gone', 'moved', 'silent'] } } }, include: { channel: true } });
    for (const row of rows) expect(row).toMatchObject({ status: 'failed', attempts: 3 });
    const errorOf = (name: string) => rows.find((r) => r.channel.name === name)!.channel.lastError;
    expect(errorOf('refuses')).toBe('The robot refused the message: error 310000 (sign not match)');
    expect(errorOf('gone')).toBe('HTTP 404: no such hook');
    expect(errorOf('moved')).toContain('HTTP 302');
    expect(errorOf('silent')).toMatch(/^No answer from 127\.0\.0\.1:\d+ within 1 s\.$/);
    expect(await giveUps()).toBe(4);
  });

  it('e-mails the recipients through the SMTP server', async () => {
    await t.db.notificationChannel.deleteMany();
    await add({ name: 'ops-mail', kind: 'email', to: 'ops@example.test, lead@example.test' });
    notify(t.svc, event({ event: 'publish.failed', status: 'failed' }));
    await waitFor(() => (smtp.mails.length ? true : undefined), 'the e-mail', 10_000, 20);
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0];
    expect(mail.from).toBe('ferry@example.test');
    expect(mail.to).toEqual(['ops@example.test', 'lead@example.test']);
    expect(mail.data).toContain('Subject: [Ferry] game: publish failed (r120)');
    expect(mail.data).toContain('Job page: https://ferry.example/jobs/42');
  });

  it('fails an e-mail channel with a plain message when no SMTP server is configured', async () => {
    await t.db.notificationChannel.deleteMany();
    const { id } = await add({ name: 'no-smtp', kind: 'email', to: 'ops@example.test' });
    const result = await testChannel(t.svc, adminCtx(), projectId, id, { publicUrl: 'https://ferry.example', smtp: null, timeoutMs: 1000, responseBytes: 1024 });
    expect(result).toMatchObject({ ok: false, message: 'The test message to "no-smtp" failed: No SMTP server is configured for e-mail: set FERRY_SMTP_URL and FERRY_SMTP_FROM and restart Ferry.' });
    expect((await t.db.notificationChannel.findUniqueOrThrow({ where: { id } })).lastStatus).toBe('failed');
  });

  it('sends what a previous run left queued once a worker starts', async () => {
    await worker.stop();
    await t.db.notificationChannel.deleteMany();
    const { id } = await add({ name: 'after-restart', kind: 'slack', url: `${receiver.url}/after-restart` });
    notify(t.svc, event({ jobId: 77 }));
    await waitFor(async () => ((await t.db.notificationDelivery.count({ where: { channelId: id } })) ? true : undefined), 'the queued row', 5000, 10);
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.received.some((r) => r.path === '/after-restart')).toBe(false);

    worker = new NotificationWorker(t.svc, { publicUrl: 'https://ferry.example', smtp: null }, { retryDelaysMs: [50, 50], pollMs: 20, timeoutMs: 1000 });
    worker.start();
    await worker.idle();
    expect(receiver.received.filter((r) => r.path === '/after-restart')).toHaveLength(1);
    expect(await t.db.notificationDelivery.findFirstOrThrow({ where: { channelId: id } })).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('returns from notify() at once even when the receiver never answers', async () => {
    await t.db.notificationChannel.deleteMany();
    await add({ name: 'slow', kind: 'slack', url: `${receiver.url}/silent` });
    const started = performance.now();
    for (let i = 0; i < 20; i++) notify(t.svc, event({ jobId: 100 + i }));
    expect(performance.now() - started).toBeLessThan(50);
  });
});
