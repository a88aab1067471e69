// Process jobs of one project wait their turn instead of all opening SSH sessions at once: real sshd target, real
// engine, real SQLite. The status command records when it starts and ends on the target, so overlap is measured there.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { JOB_QUEUE } from '../../src/config.ts';

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let token: string;
let trace: string;
let gate: string;
const api = (method: 'get' | 'post', url: string, body?: object) => {
  const req = supertest(t.app)[method](url).set('Authorization', `Bearer ${token}`);
  return body ? req.send(body) : req;
};

/** Largest number of status commands that were running on the target at the same moment. */
function maxOverlap(lines: string[]): number {
  let now = 0;
  let max = 0;
  const events = lines.filter(Boolean).map((l) => l.split(' ')).map(([sign, ns]) => ({ sign, ns: BigInt(ns) }));
  events.sort((x, y) => (x.ns < y.ns ? -1 : x.ns > y.ns ? 1 : x.sign === '-' ? -1 : 1));
  for (const e of events) {
    now += e.sign === '+' ? 1 : -1;
    max = Math.max(max, now);
  }
  return max;
}

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a'], files: { 'trunk/readme.txt': 'x\n' } });
  trace = path.join(fleet.targets.a.dir, 'trace.log');
  gate = path.join(fleet.targets.a.dir, 'gate');
  t = await startTestApp({ engine: realEngine() });
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  // "app": its status takes a moment and leaves a trace; "gated": its status waits until the test creates a file.
  const res = await api('post', '/api/import', fleet.importDoc({
    processes: [
      { name: 'app', start: 'true', stop: 'true', groups: ['zone1'], status: `echo "+ $(date +%s%N)" >> '${trace}'; sleep 0.3; echo "- $(date +%s%N)" >> '${trace}'` },
      { name: 'gated', start: 'true', stop: 'true', groups: ['zone1'], status: `while [ ! -e '${gate}' ]; do sleep 0.1; done; echo open` },
    ],
  }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}, 120_000);

afterAll(async () => {
  if (gate) fs.writeFileSync(gate, '');
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('process job queue', () => {
  it('12 status jobs fired at once all succeed, wait as "queued", and never run more than the per-project limit at once', async () => {
    const responses = await Promise.all(Array.from({ length: 12 }, () => api('post', '/api/projects/game/processes', { action: 'status', processes: ['app'] })));
    for (const r of responses) expect(r.status, JSON.stringify(r.body)).toBe(201);
    const ids = responses.map((r) => r.body.jobId as number);
    // Right after the requests, jobs beyond the limit are waiting (how many depends on how fast the first ones ran).
    const [waiting, running] = await Promise.all(['queued', 'running'].map((status) => t.db.job.count({ where: { id: { in: ids }, status } })));
    expect(waiting).toBeGreaterThan(0);
    expect(running).toBeLessThanOrEqual(JOB_QUEUE.processJobsPerProject);
    const queuedView = (await api('get', `/api/jobs/${ids[11]}`)).body;
    expect(['queued', 'running', 'succeeded']).toContain(queuedView.status);
    await t.jobs!.idle();
    const jobs = await t.db.job.findMany({ where: { id: { in: ids } }, orderBy: { id: 'asc' } });
    expect(jobs.map((j) => j.status)).toEqual(Array(12).fill('succeeded'));
    // Measured on the target: status commands never overlapped beyond the limit.
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    expect(lines.filter((l) => l.startsWith('+'))).toHaveLength(12);
    expect(maxOverlap(lines)).toBeLessThanOrEqual(JOB_QUEUE.processJobsPerProject);
    // And in the job rows: each job started only after enough earlier ones had finished.
    for (let i = JOB_QUEUE.processJobsPerProject; i < jobs.length; i++) {
      const finishedBefore = jobs.filter((j) => j.finishedAt! <= jobs[i].startedAt!).length;
      expect(finishedBefore, `job #${jobs[i].id}`).toBeGreaterThanOrEqual(i - JOB_QUEUE.processJobsPerProject + 1);
    }
  }, 120_000);

  it('a project with too many waiting process jobs refuses the next one with 429 and a plain message', async () => {
    const fire = () => api('post', '/api/projects/game/processes', { action: 'status', processes: ['gated'] });
    const accepted: number[] = [];
    for (let i = 0; i < JOB_QUEUE.processJobsPerProject + JOB_QUEUE.maxQueuedPerProject; i++) {
      const r = await fire();
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      accepted.push(r.body.jobId);
    }
    const refused = await fire();
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatch(/waiting/);
    const logged = await t.db.opLog.findFirst({ where: { action: 'process.status', result: 'denied' }, orderBy: { id: 'desc' } });
    expect(logged?.detail).toMatch(/waiting/);
    fs.writeFileSync(gate, '');
    await t.jobs!.idle();
    const statuses = await t.db.job.findMany({ where: { id: { in: accepted } }, select: { status: true } });
    expect(statuses.every((s) => s.status === 'succeeded')).toBe(true);
  }, 180_000);

  it('a publish is not held up by waiting process jobs', async () => {
    fs.rmSync(gate, { force: true });
    const blocker = await api('post', '/api/projects/game/processes', { action: 'status', processes: ['gated'] });
    expect(blocker.status).toBe(201);
    const pub = await api('post', '/api/projects/game/publish', { files: ['readme.txt'], groups: ['zone1'] });
    expect(pub.status, JSON.stringify(pub.body)).toBe(201);
    const deadline = Date.now() + 60_000;
    let status = '';
    while (Date.now() < deadline) {
      status = (await t.db.job.findUniqueOrThrow({ where: { id: pub.body.jobId } })).status;
      if (status !== 'running' && status !== 'queued') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('succeeded');
    fs.writeFileSync(gate, '');
    await t.jobs!.idle();
  }, 120_000);
});
