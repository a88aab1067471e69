// A process job waiting in its project's queue runs only if its user may still do so when its turn comes: real sshd
// target, real engine, real SQLite. The first job holds the queue until the test opens a gate file on the target.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let gate: string;
let trace: string;
const as = (token: string) => ({
  post: (url: string, body: object) => supertest(t.app).post(url).set('Authorization', `Bearer ${token}`).send(body),
});

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a'], files: { 'trunk/readme.txt': 'x\n' } });
  gate = path.join(fleet.targets.a.dir, 'gate');
  trace = path.join(fleet.targets.a.dir, 'trace.log');
  t = await startTestApp({ engine: realEngine() });
  const admin = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  const res = await as(admin).post('/api/import', fleet.importDoc({
    processes: [
      { name: 'gated', start: 'true', stop: 'true', groups: ['zone1'], status: `while [ ! -e '${gate}' ]; do sleep 0.1; done; echo gated >> '${trace}'` },
      { name: 'app', start: 'true', stop: 'true', groups: ['zone1'], status: `echo "app $FERRY_USER" >> '${trace}'` },
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

/** Queues a job behind one that waits for the gate, lets `change` happen while it waits, then opens the gate. */
async function queueBehindGate(user: string, change: () => Promise<unknown>) {
  fs.rmSync(gate, { force: true });
  fs.rmSync(trace, { force: true });
  const member = await t.addUser(user, 'member', { game: ['process'] });
  const token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, member.name);
  const blocker = await as(token).post('/api/projects/game/processes', { action: 'status', processes: ['gated'] });
  expect(blocker.status, JSON.stringify(blocker.body)).toBe(201);
  const queued = await as(token).post('/api/projects/game/processes', { action: 'status', processes: ['app'] });
  expect(queued.status, JSON.stringify(queued.body)).toBe(201);
  expect((await t.db.job.findUniqueOrThrow({ where: { id: queued.body.jobId } })).status).toBe('queued');
  await change();
  fs.writeFileSync(gate, '');
  await t.jobs!.idle();
  return { userId: member.id, blockerId: blocker.body.jobId as number, queuedId: queued.body.jobId as number };
}

async function expectWithdrawn(user: string, queuedId: number) {
  const job = await t.db.job.findUniqueOrThrow({ where: { id: queuedId }, include: { hosts: true } });
  expect(job.status).toBe('failed');
  expect(job.error).toMatch(/permission withdrawn while queued/);
  expect(job.hosts.every((h) => h.status === 'failed')).toBe(true);
  const logged = await t.db.opLog.findFirst({ where: { jobId: queuedId, result: 'denied' } });
  expect(logged?.userName).toBe(user);
  expect(logged?.detail).toMatch(/permission withdrawn while queued/);
  // The job never reached the target: only the blocker's command ran there.
  expect(fs.readFileSync(trace, 'utf8')).toBe('gated\n');
}

describe('queued process jobs', () => {
  it('a job whose grant is withdrawn while it waits ends failed with "permission withdrawn while queued" and never runs', async () => {
    const { userId, blockerId, queuedId } = await queueBehindGate('mia', () => t.db.grant.updateMany({ where: { user: { name: 'mia' } }, data: { canProcess: false } }));
    expect((await t.db.job.findUniqueOrThrow({ where: { id: blockerId } })).status).toBe('succeeded');
    expect(userId).toBeGreaterThan(0);
    await expectWithdrawn('mia', queuedId);
  }, 120_000);

  it('a job whose user is disabled while it waits ends failed the same way', async () => {
    const { queuedId } = await queueBehindGate('dan', () => t.db.user.update({ where: { name: 'dan' }, data: { disabled: true } }));
    await expectWithdrawn('dan', queuedId);
  }, 120_000);

  it('a job whose user keeps the grant runs when its turn comes', async () => {
    const { queuedId } = await queueBehindGate('kim', async () => undefined);
    expect((await t.db.job.findUniqueOrThrow({ where: { id: queuedId } })).status).toBe('succeeded');
    expect(fs.readFileSync(trace, 'utf8')).toMatch(/^gated\napp /);
  }, 120_000);
});
