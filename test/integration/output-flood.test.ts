// A remote command that prints far more than anyone can read, end to end: real sshd target, the real engine, the job
// recorder on a real SQLite file. Ferry's memory must stay flat, the stored output is a bounded tail that says how
// much was dropped, and live subscribers get a bounded amount too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { OUTPUT_TAIL_BYTES } from '../../src/config.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { startSshd, type SshdHandle } from '../kit/sshd.ts';
import { startSvnServer, type SvnServer } from '../kit/svnserve.ts';

/** FLOOD_BYTES=600000000 measures a bigger flood by hand; memory should stay about the same. */
const FLOOD_BYTES = Number(process.env.FLOOD_BYTES ?? 200_000_000);
/** 200 MB of 51-byte lines on stdout, then a last line on stderr so the tail's content can be checked. */
const FLOOD = `yes 'flood flood flood flood flood flood flood flood' | head -c ${FLOOD_BYTES}; echo 'the very end' >&2`;

let svn: SvnServer;
let a: SshdHandle;
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: (method: 'get' | 'post', url: string, body?: object) => Promise<supertest.Response>;

beforeAll(async () => {
  svn = await startSvnServer();
  await svn.commit({ 'trunk/conf/app.ini': 'level=1\n' }, 'first build');
  a = await startSshd();
  t = await startTestApp({ engine: realEngine() });
  const token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  api = (method, url, body) => {
    const req = supertest(t.app)[method](url).set('Authorization', `Bearer ${token}`);
    return body ? req.send(body) : req;
  };
  const res = await api('post', '/api/import', {
    credentials: [{ name: 'a-key', username: a.username, privateKey: a.clientKey }],
    hosts: [{ name: 'a', address: '127.0.0.1', port: a.port, credential: 'a-key', deployDir: a.dir }],
    projects: [{
      name: 'game', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPassword: svn.password, deployDir: '/srv/unused',
      keepSnapshots: 10, groups: { zone1: ['a'] },
      processes: [{ name: 'noisy', start: FLOOD, stop: 'true', status: FLOOD, groups: ['zone1'] }],
      hooks: [{ stage: 'after-publish', name: 'chatty', script: FLOOD }],
    }],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await Promise.all([svn?.stop(), a?.stop()]);
  await t?.cleanup();
});

/** Runs `start` (a job) while sampling this process's RSS and counting the output a live watcher would get. */
async function measured(start: () => Promise<supertest.Response>) {
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const res = await start();
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const jobId = res.body.jobId as number;
  let liveChars = 0;
  t.jobs!.subscribe(jobId, (e) => {
    const event = e as { type: string; text?: string };
    if (event.type === 'output') liveChars += event.text?.length ?? 0;
  }, () => undefined);
  await t.jobs!.idle();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const job = (await api('get', `/api/jobs/${jobId}`)).body as { status: string; hosts: { host: string; status: string; error: string | null; output: string }[] };
  return { job, host: job.hosts.find((h) => h.host === 'a')!, liveChars, growthMb: (peak - before) / 1024 / 1024 };
}

describe('a remote command that prints 200 MB', () => {
  it('ends with a bounded stored tail that says what was dropped, while memory and live output stay bounded', async () => {
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);

    const res = await api('post', '/api/projects/game/processes', { action: 'status' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const jobId = res.body.jobId as number;
    // What a live viewer (the SSE stream) would be sent.
    let liveChars = 0;
    t.jobs!.subscribe(jobId, (e) => {
      const event = e as { type: string; text?: string };
      if (event.type === 'output') liveChars += event.text?.length ?? 0;
    }, () => undefined);
    await t.jobs!.idle();
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);

    const job = (await api('get', `/api/jobs/${jobId}`)).body as { status: string; hosts: { host: string; status: string; output: string }[] };
    const host = job.hosts.find((h) => h.host === 'a')!;
    const growthMb = (peak - before) / 1024 / 1024;
    console.info(`${FLOOD_BYTES / 1e6} MB of output: peak RSS growth ${growthMb.toFixed(1)} MB, live output ${(liveChars / 1024).toFixed(0)} KB, stored ${host.output.length} chars`);

    expect(job.status).toBe('succeeded');
    expect(host.output.length).toBeLessThanOrEqual(OUTPUT_TAIL_BYTES + 200);
    expect(host.output).toMatch(/\[… [\d.]+ MB of output dropped …\]/);
    expect(host.output).toContain('the very end');
    expect(host.output).toContain('noisy: running');
    expect(liveChars).toBeLessThan(20 * 1024 * 1024);
    expect(growthMb).toBeLessThan(100);
  }, 180_000);

  it('as an after-publish hook: the publish ends with a bounded tail in the host\'s log and flat memory', async () => {
    const { job, host, liveChars, growthMb } = await measured(() => api('post', '/api/projects/game/publish', { files: ['conf/app.ini'], hosts: ['a'] }));
    console.info(`after-publish hook, ${FLOOD_BYTES / 1e6} MB of output: peak RSS growth ${growthMb.toFixed(1)} MB, live output ${(liveChars / 1024).toFixed(0)} KB, stored ${host.output.length} chars`);
    expect(job.status, host.error ?? '').toBe('succeeded');
    expect(host.output.length).toBeLessThanOrEqual(OUTPUT_TAIL_BYTES + 200);
    expect(host.output).toMatch(/\[… [\d.]+ MB of output dropped …\]/);
    expect(host.output).toContain('the very end');
    expect(liveChars).toBeLessThan(20 * 1024 * 1024);
    expect(growthMb).toBeLessThan(100);
  }, 180_000);
});
