// What anonymous clients can make Ferry store or parse: login names, throttled attempts, request bodies, sessions,
// and live-event subscribers left by clients that leave early. Real app, real SQLite, real HTTP sockets.
import http from 'node:http';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Engine } from '../../src/deploy/runner-types.ts';
import { createToken, createUser } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import type { LiveJobs } from '../../src/services/jobs/live.ts';
import { csrf, PASSWORD, startTestApp, type Agent } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';
import type { LoginThrottle } from '../../src/web/auth/throttle.ts';

type TestApp = Awaited<ReturnType<typeof startTestApp>>;

const until = (cond: () => boolean | Promise<boolean>, what: string, ms = 10_000) =>
  waitFor(async () => ((await cond()) ? true : undefined), what, ms, 50);

/** Publishes wait here until a test opens the gate, so a job stays running. */
let gate: { promise: Promise<void>; open: () => void } = newGate();
function newGate() {
  let open = () => {};
  const promise = new Promise<void>((resolve) => { open = resolve; });
  return { promise, open };
}
const gatedEngine: Engine = {
  async publish(req, emit) {
    for (const h of req.hosts) emit({ type: 'host', host: h.name, status: 'running', phase: 'uploading' });
    await gate.promise;
    for (const h of req.hosts) emit({ type: 'host', host: h.name, status: 'succeeded', phase: 'done' });
    return { revision: 1, fileCount: req.files.length, bytes: 1 };
  },
  async rollback() {},
  async processAction() {},
};

let t: TestApp;
let server: http.Server;
let port: number;

beforeAll(async () => {
  // perIp is high here so the per-user tests do not lock the test's own address; the address lock has its own app.
  t = await startTestApp({ throttle: { perUser: 5, perIp: 1000, windowSec: 60, blockSec: 60 }, engine: () => gatedEngine });
  server = http.createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  gate.open();
  await t?.jobs?.idle();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  t?.app.locals.close?.();
  await t?.cleanup();
});

interface RawResponse { status: number; ms: number; body: string }

/** Sends a request over a plain socket; the server may answer (and close) before the body is fully sent. */
function rawRequest(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: Buffer.concat(chunks).toString('utf8') }));
    });
    // EPIPE/ECONNRESET after an early answer is expected; without an answer it is a failure.
    req.on('error', (err) => setTimeout(() => reject(err), 50));
    req.end(body);
  });
}

/** A browser's login form: the page's token and the cookies that go with it. */
async function loginForm(): Promise<{ token: string; cookie: string }> {
  const res = await supertest(t.app).get('/login');
  const token = /name="_csrf" value="([^"]+)"/.exec(res.text)![1];
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  return { token, cookie };
}

/** Worker code: sends `count` nested-JSON bodies of `depth` levels to POST /login and reports the statuses. */
const SENDER = `
const http = require('node:http');
const { parentPort, workerData: { port, count, depth } } = require('node:worker_threads');
const body = '{"username":' + '['.repeat(depth) + '"x"' + ']'.repeat(depth) + ',"password":"p"}';
const send = () => new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/login', agent: false, headers: { 'Content-Type': 'application/json' } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('error', () => setTimeout(() => resolve(0), 50));
  req.end(body);
});
Promise.all(Array.from({ length: count }, send)).then((statuses) => parentPort.postMessage(statuses));
`;

const nestedJson = (depth: number, name = 'x') => `{"username":${'['.repeat(depth)}"${name}"${']'.repeat(depth)},"password":"p"}`;

describe('login names and the operation log', () => {
  it('still signs in an account whose name predates the name rule, and refuses such names for new accounts', async () => {
    // Created directly, as an older CLI could: a space and a "+" that the rule now refuses.
    await t.addUser('jane doe+ops', 'member');
    const agent = supertest.agent(t.app);
    const token = await csrf(agent, '/login');
    const res = await agent.post('/login').type('form').send({ username: 'jane doe+ops', password: PASSWORD, _csrf: token });
    expect(res.status, res.text.slice(0, 300)).toBe(302);
    await expect(createUser(t.svc, { actor: cliActor(), ip: '' }, { name: 'john doe', role: 'member', password: 'long-enough-pw' })).rejects.toThrow(/User name "john doe": must start with a letter or digit/);
    expect(await t.db.user.count({ where: { name: 'john doe' } })).toBe(0);
  });

  it('refuses an over-long user name with 400 or 413 and writes nothing', async () => {
    const rowsBefore = await t.db.opLog.count();
    const { token, cookie } = await loginForm();
    const huge = await rawRequest('POST', '/login', { 'Content-Type': 'application/json', Cookie: cookie },
      JSON.stringify({ username: 'a'.repeat(4_500_000), password: 'x', _csrf: token }));
    expect([400, 413]).toContain(huge.status);
    const long = await rawRequest('POST', '/login', { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie },
      new URLSearchParams({ username: 'b'.repeat(60_000), password: 'x', _csrf: token }).toString());
    expect(long.status).toBe(400);
    expect(long.body).toContain('not a valid user name');
    expect(long.body).not.toContain('b'.repeat(100));
    expect(await t.db.opLog.count()).toBe(rowsBefore);
    const longest = await t.db.$queryRaw<{ n: bigint | number | null }[]>`SELECT MAX(length(userName)) AS n FROM OpLog`;
    expect(Number(longest[0].n ?? 0)).toBeLessThanOrEqual(256);
  });

  it('cuts every logged field to its limit', async () => {
    const { recordOp } = await import('../../src/services/oplog.ts');
    await recordOp(t.svc, { actor: null, ip: '1'.repeat(500), userName: 'u'.repeat(10_000) }, {
      action: 'a'.repeat(500), result: 'failed', project: 'p'.repeat(10_000), target: 't'.repeat(10_000), detail: 'd'.repeat(1_000_000),
    });
    const row = await t.db.opLog.findFirstOrThrow({ orderBy: { id: 'desc' } });
    expect(row.userName.length).toBe(256);
    expect(row.userName.endsWith('…')).toBe(true);
    expect(row.ip.length).toBeLessThanOrEqual(64);
    expect(row.action.length).toBeLessThanOrEqual(64);
    expect(row.project.length).toBeLessThanOrEqual(256);
    expect(row.target.length).toBeLessThanOrEqual(256);
    expect(row.detail.length).toBeLessThanOrEqual(4096);
  });

  it('writes one row when a lock starts, counts the refusals during it and sums them up when it ends', async () => {
    // Its own app: the lock lasts 5 s here, so the test can see it end.
    const other = await startTestApp({ throttle: { perUser: 5, perIp: 1000, windowSec: 60, blockSec: 5 } });
    try {
      await other.addUser('paula', 'member');
      const agent = supertest.agent(other.app);
      const token = await csrf(agent, '/login');
      const attempt = (password: string) => agent.post('/login').type('form').send({ username: 'paula', password, _csrf: token });
      for (let i = 0; i < 5; i++) expect((await attempt('wrong')).status).toBe(401);
      const before = await other.db.opLog.count({ where: { userName: 'paula' } });
      expect(before).toBe(5);
      const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => attempt(i === 49 ? PASSWORD : 'wrong').then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([429]));
      const during = await other.db.opLog.findMany({ where: { userName: 'paula' }, orderBy: { id: 'asc' }, skip: before });
      expect(during.map((r) => r.result)).toEqual(['denied']);
      expect(during[0].detail).toMatch(/locked/);
      // When the lock ends, one row sums up the 49 refusals after the one that started it.
      await until(async () => (await other.db.opLog.count({ where: { userName: 'paula' } })) === before + 2, 'the lock-end summary');
      const summary = await other.db.opLog.findFirstOrThrow({ where: { userName: 'paula' }, orderBy: { id: 'desc' } });
      expect(summary).toMatchObject({ result: 'denied' });
      expect(summary.detail).toContain('49 more login attempts were refused');
      expect((await attempt(PASSWORD)).status).toBe(302);
    } finally {
      other.app.locals.close?.();
      await other.cleanup();
    }
  });

  it('offers account names in the user filter, not every name typed at the login form', async () => {
    const { token, cookie } = await loginForm();
    for (const name of ['junk-name-1', 'junk-name-2', 'no.such.user']) {
      const res = await rawRequest('POST', '/login', { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie },
        new URLSearchParams({ username: name, password: 'x', _csrf: token }).toString());
      expect(res.status).toBe(401);
    }
    expect(await t.db.opLog.count({ where: { userName: 'junk-name-1' } })).toBe(1);
    const admin = await t.login('quinn', 'admin');
    const page = await admin.get('/oplog');
    expect(page.status).toBe(200);
    expect(page.text).toContain('value="quinn"');
    expect(page.text).not.toContain('junk-name-1');
    expect(page.text).not.toContain('no.such.user');
    // The filter is free text, so rows of names that are not accounts can still be found.
    const rows = await admin.get('/oplog/data').query({ user: 'junk-name-1', start: 0, length: 10 });
    expect(rows.body.recordsFiltered).toBe(1);
  });
});

describe('request bodies before authentication', () => {
  it('refuses a 4.5 MB JSON body to /login with 413 at once', async () => {
    const res = await rawRequest('POST', '/login', { 'Content-Type': 'application/json' }, nestedJson(2_000_000));
    expect(res.status).toBe(413);
    expect(res.ms).toBeLessThan(2000);
  });

  it('refuses JSON nested deeper than the limit with 400, even under the size limit', async () => {
    const { token, cookie } = await loginForm();
    const body = nestedJson(30_000).replace('"password":"p"', `"password":"p","_csrf":"${token}"`);
    expect(body.length).toBeLessThan(64 * 1024);
    const res = await rawRequest('POST', '/login', { 'Content-Type': 'application/json', Cookie: cookie, Accept: 'application/json' }, body);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/deeper than 64 levels/);
  });

  it('refuses JSON in another charset, where the nesting scan could not see quotes and brackets', async () => {
    // In UTF-16 an escaped quote is 5c 00 22 00: a byte scan would think the string ended and miss the nesting.
    const { token, cookie } = await loginForm();
    const text = `{"username":"\\"","x":${'['.repeat(5000)}${']'.repeat(5000)},"_csrf":"${token}"}`;
    for (const charset of ['utf-16le', 'utf-16be']) {
      const body = charset === 'utf-16le' ? Buffer.from(text, 'utf16le') : Buffer.from(text, 'utf16le').swap16();
      const res = await rawRequest('POST', '/login', { 'Content-Type': `application/json; charset=${charset}`, Cookie: cookie, Accept: 'application/json' }, body);
      expect(res.status, charset).toBe(415);
      expect(JSON.parse(res.body).error).toMatch(/UTF-8/);
    }
  });

  it('keeps answering other requests while eight large bodies arrive', async () => {
    // The eight senders run in a worker thread, so building and writing 36 MB does not block this thread's probe.
    const worker = new Worker(SENDER, { eval: true, workerData: { port, count: 8, depth: 2_000_000 } });
    let finished = false;
    const done = new Promise<number[]>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); })
      .finally(() => { finished = true; });
    await new Promise<void>((resolve) => worker.once('online', () => resolve()));
    // Probe the whole time the bodies arrive (at least five times), and keep the slowest answer.
    const probes: number[] = [];
    while (!finished || probes.length < 5) {
      const probe = await rawRequest('GET', '/login', {});
      expect(probe.status).toBe(200);
      probes.push(probe.ms);
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`GET /login while 8 x 4 MB JSON bodies arrive: ${probes.length} probes, slowest ${Math.max(...probes).toFixed(0)} ms, median ${[...probes].sort((x, y) => x - y)[probes.length >> 1].toFixed(0)} ms`);
    const statuses = await done;
    await worker.terminate();
    expect(Math.max(...probes)).toBeLessThan(1000);
    expect(statuses).toEqual(Array(8).fill(413));
  });

  it('accepts a 1.5 MB import from an administrator, and refuses a member before reading the body', async () => {
    await t.addUser('rita', 'admin');
    await t.addUser('sam', 'member');
    const adminToken = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'rita');
    const memberToken = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'sam');
    const yaml = `# ${'padding '.repeat(200_000)}\ncredentials:\n  - { name: lab-key, username: root, password: secret }\n`;
    expect(yaml.length).toBeGreaterThan(1_500_000);
    const ok = await rawRequest('POST', '/api/import?dryRun=1', { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` },
      JSON.stringify({ format: 'yaml', content: yaml }));
    expect(ok.status, ok.body).toBe(200);
    // 6 MB is over every limit: a member must get the 403 (no parsing for them), not a 413 from parsing it.
    const refused = await rawRequest('POST', '/api/import', { 'Content-Type': 'application/json', Authorization: `Bearer ${memberToken}` },
      JSON.stringify({ format: 'yaml', content: 'x'.repeat(6_000_000) }));
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error).toMatch(/Only administrators/);
  });
});

describe('sessions of anonymous visitors', () => {
  it('stores no session for 300 visits to the login page', async () => {
    await t.db.session.deleteMany();
    for (let i = 0; i < 300; i++) expect((await supertest(t.app).get('/login')).status).toBe(200);
    expect(await t.db.session.count()).toBe(0);
  });

  it('stores exactly one session for a login, and the logout removes it', async () => {
    await t.db.session.deleteMany();
    const agent: Agent = await t.login('tess', 'auditor');
    expect(await t.db.session.count()).toBe(1);
    expect((await agent.get('/')).status).toBe(200);
    const token = await csrf(agent, '/');
    const out = await agent.post('/logout').type('form').send({ _csrf: token });
    expect(out.status).toBe(302);
    expect(await t.db.session.count()).toBe(0);
    const page = await agent.get(out.headers.location);
    expect(page.text).toContain('You are signed out.');
    expect(await t.db.session.count()).toBe(0);
  });

  it('still refuses a login post whose token is missing, forged or from another browser', async () => {
    await t.addUser('uma', 'member');
    const mine = await loginForm();
    const theirs = await loginForm();
    const post = (cookie: string, token?: string) => rawRequest('POST', '/login', { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie },
      new URLSearchParams({ username: 'uma', password: PASSWORD, ...(token ? { _csrf: token } : {}) }).toString());
    expect((await post(mine.cookie)).status).toBe(403);
    expect((await post(mine.cookie, 'forged')).status).toBe(403);
    expect((await post(mine.cookie, theirs.token)).status).toBe(403);
    expect((await post('', mine.token)).status).toBe(403);
    expect(await t.db.opLog.count({ where: { userName: 'uma' } })).toBe(0);
    expect((await post(mine.cookie, mine.token)).status).toBe(302);
  });
});

describe('login throttling', () => {
  it('checks at most the limit of passwords when 16 wrong ones arrive at once', async () => {
    await t.addUser('vera', 'member');
    const { token, cookie } = await loginForm();
    const results = await Promise.all(Array.from({ length: 16 }, () => rawRequest('POST', '/login', { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie },
      new URLSearchParams({ username: 'vera', password: 'wrong', _csrf: token }).toString())));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 401).length + statuses.filter((s) => s === 429).length).toBe(16);
    expect(await t.db.opLog.count({ where: { userName: 'vera', result: 'failed' } })).toBeLessThanOrEqual(5);
  });

  it('locks an address trying many user names with one row, not one per attempt', async () => {
    const other = await startTestApp({ throttle: { perUser: 5, perIp: 10, windowSec: 60, blockSec: 60 } });
    try {
      const agent = supertest.agent(other.app);
      const token = await csrf(agent, '/login');
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) statuses.push((await agent.post('/login').type('form').send({ username: `guess${i}`, password: 'x', _csrf: token })).status);
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(new Set(statuses.slice(10))).toEqual(new Set([429]));
      expect(await other.db.opLog.count({ where: { result: 'denied' } })).toBe(1);
      expect(await other.db.opLog.count()).toBe(11);
    } finally {
      other.app.locals.close?.();
      await other.cleanup();
    }
  });

  it('logs failed logins one row each only up to a budget a minute, then sums the rest in one row', async () => {
    // Many addresses together (an IPv6 network, a botnet) must not fill the disk either: the budget is global.
    const other = await startTestApp({ throttle: { perUser: 5, perIp: 1000, windowSec: 60, blockSec: 60, failedRowsPerMinute: 5 } });
    try {
      const agent = supertest.agent(other.app);
      const token = await csrf(agent, '/login');
      for (let i = 0; i < 20; i++) expect((await agent.post('/login').type('form').send({ username: `spray${i}`, password: 'x', _csrf: token })).status).toBe(401);
      expect(await other.db.opLog.count({ where: { action: 'login', result: 'failed' } })).toBe(5);
      (other.app.locals.loginThrottle as LoginThrottle).failedRows.roll(); // the minute ends
      await waitFor(async () => (await other.db.opLog.count({ where: { action: 'login', result: 'failed' } })) === 6, 'the summary row');
      const summary = await other.db.opLog.findFirstOrThrow({ where: { action: 'login', result: 'failed' }, orderBy: { id: 'desc' } });
      expect(summary.detail).toMatch(/^15 more failed logins were not logged one by one/);
      // A new minute logs rows again.
      expect((await agent.post('/login').type('form').send({ username: 'spray-next', password: 'x', _csrf: token })).status).toBe(401);
      expect(await other.db.opLog.count({ where: { action: 'login', result: 'failed', userName: 'spray-next' } })).toBe(1);
    } finally {
      other.app.locals.close?.();
      await other.cleanup();
    }
  });

  it('does not count successful logins against the address', async () => {
    const other = await startTestApp({ throttle: { perUser: 5, perIp: 3, windowSec: 60, blockSec: 60 } });
    try {
      for (let i = 0; i < 6; i++) await other.login(`ok${i}`, 'auditor');
    } finally {
      other.app.locals.close?.();
      await other.cleanup();
    }
  });
});

describe('live job events', () => {
  it('leaves no subscriber and no ping timer behind when clients leave at once', async () => {
    const cred = await t.db.credential.create({ data: { name: 'deploy', username: 'deploy' } });
    await t.db.host.create({ data: { name: 'web1', address: 'web1.example', credentialId: cred.id } });
    await t.db.project.create({ data: { name: 'alpha', svnUrl: 'svn://127.0.0.1/alpha', deployDir: '/srv/alpha', groups: { create: [{ name: 'web', hosts: { connect: [{ name: 'web1' }] } }] } } });
    await t.addUser('wes', 'admin');
    const token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'wes');
    gate = newGate();
    const started = await supertest(t.app).post('/api/projects/alpha/publish').set('Authorization', `Bearer ${token}`).send({ files: ['conf'], hosts: ['web1'] });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const jobId = started.body.jobId as number;
    // Live in this process: subscribing works only while the job runs here.
    await until(() => { const stop = t.jobs!.subscribe(jobId, () => {}, () => {}); stop?.(); return stop !== null; }, 'the job to run');
    const live = (t.jobs as unknown as { live: LiveJobs }).live.get(jobId)!;
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timers();

    // Reading the snapshot is quick here (it only awaits microtasks), so a client could never leave in the middle of it;
    // on a busy server it can. Stretching the flush before the snapshot to 300 ms opens that window.
    const jobs = t.jobs!;
    const realFlush = jobs.flush.bind(jobs);
    jobs.flush = async (id: number) => {
      await new Promise((r) => setTimeout(r, 300));
      return realFlush(id);
    };
    try {
      // Twenty clients send the request and reset the connection while the snapshot is being read.
      await Promise.all(Array.from({ length: 20 }, (_, i) => new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(`GET /api/jobs/${jobId}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`, () => {
            setTimeout(() => {
              socket.resetAndDestroy();
              resolve();
            }, i % 2 ? 0 : 150);
          });
        });
        socket.on('error', () => resolve());
      })));
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      jobs.flush = realFlush;
    }
    // A client that stays gets the snapshot; it is the only subscriber.
    const stay = http.get({ host: '127.0.0.1', port, path: `/api/jobs/${jobId}/events`, headers: { Authorization: `Bearer ${token}` }, agent: false });
    const firstChunk = await new Promise<string>((resolve) => stay.on('response', (res) => res.once('data', (c: Buffer) => resolve(String(c)))));
    expect(firstChunk).toContain('event: snapshot');
    await new Promise((r) => setTimeout(r, 300));
    expect(live.emitter.listenerCount('event')).toBe(1);
    expect(timers() - timersBefore).toBeLessThanOrEqual(1);
    stay.destroy();
    await until(() => live.emitter.listenerCount('event') === 0, 'the last subscriber to leave');
    expect(timers()).toBeLessThanOrEqual(timersBefore);
    gate.open();
    await t.jobs!.idle();
  });
});
