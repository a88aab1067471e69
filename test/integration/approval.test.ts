// Approval end to end: real svnserve, real sshd targets, real SQLite, the real engine. A publish on a project that
// requires approval waits as a request and reaches the hosts only once someone else holding "approve" approves it.
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
const tokens: Record<string, string> = {};
const as = (user: string) => ({
  get: (url: string) => supertest(t.app).get(url).set('Authorization', `Bearer ${tokens[user]}`),
  post: (url: string, body: object = {}) => supertest(t.app).post(url).set('Authorization', `Bearer ${tokens[user]}`).send(body),
});
const onTarget = (host: string, rel: string) => {
  const file = path.join(fleet.targets[host].dir, rel);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
};
const jobRow = (id: number) => t.db.job.findUniqueOrThrow({ where: { id }, include: { hosts: true } });
const ops = (jobId: number) => t.db.opLog.findMany({ where: { jobId }, orderBy: { id: 'asc' } });

async function request(user = 'dev', body: object = { files: ['conf/app.ini'], groups: ['zone1'] }): Promise<number> {
  const res = await as(user).post('/api/projects/game/publish', body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body.status).toBe('awaiting_approval');
  return res.body.jobId as number;
}

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b'], files: { 'trunk/conf/app.ini': 'v1\n' } });
  t = await startTestApp({ engine: realEngine() });
  const issue = async (name: string) => { tokens[name] = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, name); };
  await t.addUser('ops', 'admin');
  await issue('ops');
  const res = await as('ops').post('/api/import', fleet.importDoc());
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await t.addUser('dev', 'member', { game: ['publish', 'rollback'] });
  await t.addUser('lead', 'member', { game: ['approve'] });
  await t.addUser('peer', 'member', { game: ['publish'] });
  await t.addUser('lead2', 'member', { game: ['publish', 'approve'] });
  for (const name of ['dev', 'lead', 'peer', 'lead2']) await issue(name);
  // A first release without approval, so later rollbacks have something to restore.
  const first = await as('ops').post('/api/projects/game/publish', { files: ['conf/app.ini'], groups: ['zone1'] });
  expect(first.status).toBe(201);
  await t.jobs!.idle();
  expect(onTarget('a', 'conf/app.ini')).toBe('v1\n');
  await t.db.project.update({ where: { name: 'game' }, data: { requireApproval: true } });
  await fleet.svn.commit({ 'trunk/conf/app.ini': 'v2\n' }, 'second build');
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('publishing on a project that requires approval', () => {
  it('stores the publish as a request: 202, nothing sent, no slot held, logged', async () => {
    const jobId = await request();
    await t.jobs!.idle();
    const job = await jobRow(jobId);
    expect(job.status).toBe('awaiting_approval');
    expect(job.startedAt).toBeNull();
    expect(job.expiresAt!.getTime() - job.createdAt.getTime()).toBeCloseTo(24 * 3600_000, -4);
    expect(job.hosts.map((h) => [h.hostName, h.status, h.phase])).toEqual([['a', 'queued', 'awaiting approval'], ['b', 'queued', 'awaiting approval']]);
    expect(onTarget('a', 'conf/app.ini')).toBe('v1\n');
    expect((await ops(jobId)).map((o) => [o.action, o.userName, o.result])).toEqual([['publish.request', 'dev', 'ok']]);
    // A pending request does not block other work on the project: an admin's second request is accepted too.
    const second = await request('ops');
    expect(await as('ops').post(`/api/jobs/${second}/cancel`).then((r) => r.body.status)).toBe('cancelled');
    await as('dev').post(`/api/jobs/${jobId}/cancel`).expect(200);
  });

  it('refuses the requester, and a member without "approve", with 403; nothing runs', async () => {
    const jobId = await request();
    const own = await as('dev').post(`/api/jobs/${jobId}/approve`);
    expect(own.status).toBe(403);
    expect(own.body.error).toMatch(/cannot approve your own request/);
    const peer = await as('peer').post(`/api/jobs/${jobId}/approve`);
    expect(peer.status).toBe(403);
    expect(peer.body.error).toMatch(/do not have permission to approve/);
    const peerReject = await as('peer').post(`/api/jobs/${jobId}/reject`, { reason: 'no' });
    expect(peerReject.status).toBe(403);
    await t.jobs!.idle();
    expect((await jobRow(jobId)).status).toBe('awaiting_approval');
    expect(onTarget('a', 'conf/app.ini')).toBe('v1\n');
    const denied = (await ops(jobId)).filter((o) => o.result === 'denied').map((o) => [o.action, o.userName]);
    expect(denied).toEqual([['publish.approve', 'dev'], ['publish.approve', 'peer'], ['publish.reject', 'peer']]);
    // Someone else who cannot see the job gets a 404 rather than learning it exists.
    await t.addUser('stranger', 'member');
    tokens.stranger = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'stranger');
    expect((await as('stranger').post(`/api/jobs/${jobId}/approve`)).status).toBe(404);
    await as('dev').post(`/api/jobs/${jobId}/cancel`).expect(200);
  });

  it('runs an approved request at once: the requester stays author, the approver is recorded, the files land', async () => {
    const jobId = await request('dev', { files: ['conf/app.ini'], groups: ['zone1'], note: 'ticket 42' });
    // The after-publish hook on the host records who the release is by (FERRY_USER).
    const who = path.join(fleet.targets.a.dir, 'who.txt');
    const projectId = (await t.db.project.findUniqueOrThrow({ where: { name: 'game' } })).id;
    await t.db.hook.create({ data: { projectId, name: 'who', stage: 'after-publish', runOn: 'target', script: `[ "$FERRY_HOST" = a ] && echo "$FERRY_USER" > '${who}' || true` } });
    const res = await as('lead').post(`/api/jobs/${jobId}/approve`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ jobId, status: 'running' });
    await t.jobs!.idle();
    const job = await jobRow(jobId);
    expect(job.status, job.error ?? '').toBe('succeeded');
    expect([job.userName, job.decidedByName, job.note]).toEqual(['dev', 'lead', 'ticket 42']);
    expect(job.startedAt).not.toBeNull();
    expect(onTarget('a', 'conf/app.ini')).toBe('v2\n');
    expect(onTarget('b', 'conf/app.ini')).toBe('v2\n');
    expect(fs.readFileSync(who, 'utf8')).toBe('dev\n');
    await t.db.hook.deleteMany({ where: { name: 'who' } });
    const actions = (await ops(jobId)).map((o) => [o.action, o.userName, o.result]);
    expect(actions).toEqual([['publish.request', 'dev', 'ok'], ['publish.approve', 'lead', 'ok'], ['publish.finish', 'lead', 'ok']]);
    // Deciding twice is a conflict, not a second run.
    const again = await as('lead').post(`/api/jobs/${jobId}/approve`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/lead already approved it/);
    // Nothing to retry on a request that never ran; a finished approved job keeps its normal buttons.
    const view = await as('dev').get(`/api/jobs/${jobId}`);
    expect([view.body.decidedBy, view.body.status]).toEqual(['lead', 'succeeded']);
  });

  it('rejects with a reason (required): hosts skipped, nothing sent, the requester sees why', async () => {
    await fleet.svn.commit({ 'trunk/conf/app.ini': 'v3\n' }, 'third build');
    const jobId = await request();
    const noReason = await as('lead').post(`/api/jobs/${jobId}/reject`, { reason: '  ' });
    expect(noReason.status).toBe(400);
    expect((await jobRow(jobId)).status).toBe('awaiting_approval');
    const res = await as('lead').post(`/api/jobs/${jobId}/reject`, { reason: 'not during the tournament' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await t.jobs!.idle();
    const job = await jobRow(jobId);
    expect([job.status, job.decidedByName, job.decisionNote]).toEqual(['rejected', 'lead', 'not during the tournament']);
    expect(job.hosts.every((h) => h.status === 'skipped' && /rejected by lead/.test(h.error ?? ''))).toBe(true);
    expect(onTarget('a', 'conf/app.ini')).toBe('v2\n');
    const seen = await as('dev').get(`/api/jobs/${jobId}`);
    expect([seen.body.status, seen.body.decisionNote]).toEqual(['rejected', 'not during the tournament']);
    expect((await as('dev').post(`/api/jobs/${jobId}/retry`)).status).toBe(400);
    expect((await as('lead').post(`/api/jobs/${jobId}/approve`)).status).toBe(409);
    expect((await ops(jobId)).map((o) => o.action)).toContain('publish.reject');
  });

  it('lets only the author cancel a request', async () => {
    const jobId = await request();
    const byLead = await as('lead').post(`/api/jobs/${jobId}/cancel`);
    expect(byLead.status).toBe(403);
    expect(byLead.body.error).toMatch(/Only dev, who asked for job/);
    const res = await as('dev').post(`/api/jobs/${jobId}/cancel`);
    expect(res.status).toBe(200);
    expect((await jobRow(jobId)).status).toBe('cancelled');
    expect(onTarget('a', 'conf/app.ini')).toBe('v2\n');
  });

  it('expires an undecided request: approving it afterwards is refused and it is closed', async () => {
    const late = await request();
    const swept = await request();
    const past = new Date(Date.now() - 1000);
    await t.db.job.updateMany({ where: { id: { in: [late, swept] } }, data: { expiresAt: past } });
    const res = await as('lead').post(`/api/jobs/${late}/approve`);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatch(/expired/);
    expect((await jobRow(late)).status).toBe('expired');
    expect(await t.jobs!.expireRequests()).toBe(1);
    const job = await jobRow(swept);
    expect(job.status).toBe('expired');
    expect(job.hosts.every((h) => h.status === 'skipped')).toBe(true);
    expect((await ops(swept)).map((o) => [o.action, o.userName])).toContainEqual(['publish.expire', 'system']);
    expect(onTarget('a', 'conf/app.ini')).toBe('v2\n');
  });

  it('shows approvers the waiting requests on the dashboard and in the navigation, not the requester', async () => {
    const jobId = await request();
    const lead = await t.login('lead', 'member');
    const page = await lead.get('/').expect(200);
    expect(page.text).toContain('Requests waiting for your approval');
    expect(page.text).toContain(`href="/jobs/${jobId}"`);
    expect(page.text).toMatch(/id="nav-approvals"[^>]*>To approve <span class="badge[^"]*">1</);
    const jobPage = await lead.get(`/jobs/${jobId}`).expect(200);
    expect(jobPage.text).toContain('id="approve-button"');
    expect(jobPage.text).toContain('id="reject-form"');
    const dev = await t.login('dev', 'member');
    const devPage = await dev.get('/').expect(200);
    expect(devPage.text).not.toContain('Requests waiting for your approval');
    expect(devPage.text).not.toContain('id="nav-approvals"');
    const devJob = await dev.get(`/jobs/${jobId}`).expect(200);
    expect(devJob.text).not.toContain('id="approve-button"');
    expect(devJob.text).toContain('id="cancel-request-button"');
    expect(devJob.text).toContain('You cannot approve your own request');
    await as('dev').post(`/api/jobs/${jobId}/cancel`).expect(200);
  });

  it('refuses an approval while the project is busy and keeps the request waiting', async () => {
    const jobId = await request();
    const other = await request('lead2');
    // lead2's request is approved by lead and runs; while it runs, approving dev's request meets the busy project.
    const gate = path.join(fleet.targets.a.dir, 'hold');
    await t.db.hook.create({ data: { projectId: (await t.db.project.findUniqueOrThrow({ where: { name: 'game' } })).id, name: 'hold', stage: 'after-publish', runOn: 'target', script: `while [ ! -e '${gate}' ]; do sleep 0.1; done` } });
    try {
      expect((await as('lead').post(`/api/jobs/${other}/approve`)).status).toBe(200);
      const busy = await as('lead2').post(`/api/jobs/${jobId}/approve`);
      expect(busy.status).toBe(409);
      expect(busy.body.error).toMatch(/is busy/);
      expect((await jobRow(jobId)).status).toBe('awaiting_approval');
    } finally {
      fs.writeFileSync(gate, '');
      await t.jobs!.idle();
      await t.db.hook.deleteMany({ where: { name: 'hold' } });
      fs.rmSync(gate, { force: true });
    }
    expect((await jobRow(other)).status).toBe('succeeded');
    expect((await as('lead2').post(`/api/jobs/${jobId}/approve`)).status).toBe(200);
    await t.jobs!.idle();
    expect((await jobRow(jobId)).status).toBe('succeeded');
  });
});

describe('approval and waves', () => {
  it('keeps the wave plan of a request and publishes wave by wave once approved; Continue refuses a rejected one', async () => {
    await fleet.svn.commit({ 'trunk/conf/app.ini': 'waves\n' }, 'waves build');
    const jobId = await request('dev', { files: ['conf/app.ini'], groups: ['zone1'], waves: { by: 'batch', batchSize: 1 } });
    const waiting = await jobRow(jobId);
    expect(JSON.parse(waiting.waves).waves.map((w: { hosts: string[] }) => w.hosts)).toEqual([['a'], ['b']]);
    await as('lead').post(`/api/jobs/${jobId}/approve`).expect(200);
    await t.jobs!.idle();
    const job = await jobRow(jobId);
    expect(job.status, job.error ?? '').toBe('succeeded');
    expect(job.hosts.map((h) => [h.hostName, h.wave, h.status])).toEqual([['a', 0, 'succeeded'], ['b', 1, 'succeeded']]);
    expect(JSON.parse(job.waves).waves.map((w: { status: string }) => w.status)).toEqual(['done', 'done']);
    expect([onTarget('a', 'conf/app.ini'), onTarget('b', 'conf/app.ini')]).toEqual(['waves\n', 'waves\n']);

    const rejected = await request('dev', { files: ['conf/app.ini'], groups: ['zone1'], waves: { by: 'batch', batchSize: 1 } });
    await as('lead').post(`/api/jobs/${rejected}/reject`, { reason: 'no' }).expect(200);
    const cont = await as('dev').post(`/api/jobs/${rejected}/continue`);
    expect(cont.status).toBe(400);
    expect(cont.body.error).toMatch(/never ran/);
  });
});

describe('rollbacks and approval', () => {
  it('runs a rollback at once by default, even on a project whose publishes need approval', async () => {
    const last = await t.db.job.findFirstOrThrow({ where: { kind: 'publish', status: 'succeeded' }, orderBy: { id: 'desc' } });
    const res = await as('dev').post(`/api/jobs/${last.id}/rollback`);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await t.jobs!.idle();
    expect((await jobRow(res.body.jobId)).status).toBe('succeeded');
  });

  it('makes a rollback wait when the project says so, and plans it again when approved', async () => {
    await t.db.project.update({ where: { name: 'game' }, data: { rollbackNeedsApproval: true } });
    const prior = onTarget('a', 'conf/app.ini');
    expect(prior).not.toBe('v4\n');
    await fleet.svn.commit({ 'trunk/conf/app.ini': 'v4\n' }, 'fourth build');
    const publish = await request();
    await as('lead').post(`/api/jobs/${publish}/approve`).expect(200);
    await t.jobs!.idle();
    expect(onTarget('a', 'conf/app.ini')).toBe('v4\n');
    const before = onTarget('b', 'conf/app.ini');
    const res = await as('dev').post(`/api/jobs/${publish}/rollback`);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await t.jobs!.idle();
    expect(onTarget('a', 'conf/app.ini')).toBe('v4\n');
    expect((await as('dev').post(`/api/jobs/${res.body.jobId}/approve`)).status).toBe(403);
    await as('lead').post(`/api/jobs/${res.body.jobId}/approve`).expect(200);
    await t.jobs!.idle();
    const job = await jobRow(res.body.jobId);
    expect(job.status, job.error ?? '').toBe('succeeded');
    expect(job.userName).toBe('dev');
    expect(before).toBe('v4\n');
    // The bytes the approved publish overwrote are back on both hosts.
    expect(onTarget('a', 'conf/app.ini')).toBe(prior);
    expect(onTarget('b', 'conf/app.ini')).toBe(prior);
  });
});
