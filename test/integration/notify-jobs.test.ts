// Jobs report to notification channels: a real publish to real sshd targets queues publish.started and
// publish.succeeded, a process action that fails on one host queues process.failed naming it, and a receiver that
// never answers delays none of it. Real svnserve, sshd, SQLite, engine, and an HTTP receiver on 127.0.0.1.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor } from '../../src/services/context.ts';
import { NotificationWorker } from '../../src/services/notify/index.ts';
import { createToken } from '../../src/services/users.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { waitFor } from '../helpers/wait.ts';

const HMAC_KEY = 'ferry-hook-key';
let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let worker: NotificationWorker;
let receiver: http.Server;
let token: string;
const hooks: { event: string; timestamp: string; signature: string; body: string }[] = [];

const api = (url: string, body: object) => supertest(t.app).post(url).set('Authorization', `Bearer ${token}`).send(body);
const payloads = () => hooks.map((h) => JSON.parse(h.body) as Record<string, unknown>);

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (req.url === '/silent') return; // never answers
      hooks.push({ event: String(req.headers['x-ferry-event']), timestamp: String(req.headers['x-ferry-timestamp']), signature: String(req.headers['x-ferry-signature']), body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  fleet = await startFleet({ targets: ['a', 'b'], files: { 'trunk/app.txt': 'v1\n' } });
  fs.writeFileSync(path.join(fleet.targets.a.dir, 'healthy'), '');
  t = await startTestApp({ engine: realEngine() });
  worker = new NotificationWorker(t.svc, { publicUrl: 'https://ferry.example', smtp: null }, { pollMs: 50, timeoutMs: 2000 });
  worker.start();
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  const doc = fleet.importDoc({
    processes: [{ name: 'app', start: 'true', stop: 'true', groups: ['zone1'], status: 'test -e healthy' }],
  }) as { projects: Record<string, unknown>[] };
  doc.projects[0].notifications = [
    { name: 'ci', kind: 'webhook', url: `${receiverUrl}/ferry?token=abc`, secret: HMAC_KEY },
    { name: 'stuck', kind: 'slack', url: `${receiverUrl}/silent` },
  ];
  const res = await api('/api/import', doc);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await worker?.stop();
  receiver?.closeAllConnections();
  receiver?.close();
  await fleet?.stop();
  await t?.cleanup();
});

describe('job notifications', () => {
  it('a publish queues publish.started and publish.succeeded, signed, and a silent receiver does not hold the job', async () => {
    const started = Date.now();
    const res = await api('/api/projects/game/publish', { files: ['app.txt'], groups: ['zone1'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const jobId = res.body.jobId as number;
    await t.jobs!.idle();
    const job = await t.db.job.findUniqueOrThrow({ where: { id: jobId } });
    expect(job.status).toBe('succeeded');
    // The "stuck" channel's receiver never answers (2 s timeout per try); the job did not wait for it.
    expect(job.finishedAt!.getTime() - started).toBeLessThan(15_000);

    await waitFor(() => (payloads().some((p) => p.event === 'publish.succeeded' && p.jobId === jobId) ? true : undefined), 'publish.succeeded at the receiver', 20_000, 50);
    const mine = hooks.filter((h) => (JSON.parse(h.body) as { jobId: number }).jobId === jobId);
    expect(mine.map((h) => h.event).sort()).toEqual(['publish.started', 'publish.succeeded']);
    for (const h of mine) {
      expect(h.signature).toBe(`sha256=${crypto.createHmac('sha256', HMAC_KEY).update(`${h.timestamp}.${h.body}`).digest('hex')}`);
    }
    const done = JSON.parse(mine.find((h) => h.event === 'publish.succeeded')!.body) as Record<string, unknown>;
    expect(done).toMatchObject({ project: 'game', jobId, kind: 'publish', status: 'succeeded', revision: job.revision, user: 'ops', hostCount: 2, url: `https://ferry.example/jobs/${jobId}` });
    expect(done.failedHosts).toBeUndefined();

    const stuck = await t.db.notificationDelivery.findMany({ where: { channel: { name: 'stuck' }, jobId } });
    expect(stuck.map((d) => d.event).sort()).toEqual(['publish.started', 'publish.succeeded']);
  });

  it('a process action failing on one host queues process.failed naming that host', async () => {
    const res = await api('/api/projects/game/processes', { action: 'status', processes: ['app'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const jobId = res.body.jobId as number;
    await t.jobs!.idle();
    expect((await t.db.job.findUniqueOrThrow({ where: { id: jobId } })).status).toBe('partial');
    await waitFor(() => (payloads().some((p) => p.jobId === jobId) ? true : undefined), 'process.failed at the receiver', 20_000, 50);
    const event = payloads().find((p) => p.jobId === jobId)!;
    expect(event).toMatchObject({ event: 'process.failed', kind: 'process', action: 'status', status: 'partial', failedHosts: ['b'], hostCount: 2 });
    expect(String(event.text)).toContain('Failed on 1: b');
  });
});
