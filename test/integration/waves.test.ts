// Publishing in waves end to end: real svnserve, three real sshd targets (zone1 = a, b; zone2 = c), real SQLite, the
// real engine. The gate restarts process "app" (which logs each start) and checks its status, which fails on a host
// holding a file named "broken" in its deploy directory.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

interface JobView {
  id: number; status: string; revision: number | null; error: string | null; output: string; note: string;
  waves: { waves: { label: string; hosts: string[]; status: string; message?: string }[]; continuedByJobId?: number; continuesJobId?: number } | null;
  hosts: { host: string; status: string; phase: string; error: string | null; gate: string; wave: number; snapshotTaken: boolean }[];
}

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let admin: string;
let r1: number, r2: number;
const as = (token: string) => ({
  get: (url: string) => supertest(t.app).get(url).set('Authorization', `Bearer ${token}`),
  post: (url: string, body: object = {}) => supertest(t.app).post(url).set('Authorization', `Bearer ${token}`).send(body),
});
const dirOf = (host: string) => fleet.targets[host].dir;
const bytesOf = (host: string) => fs.readFileSync(path.join(dirOf(host), 'app.txt'), 'utf8');
const restartsOn = (host: string) => {
  const log = path.join(dirOf(host), 'restarts.log');
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0;
};
const getJob = async (id: number) => (await as(admin).get(`/api/jobs/${id}`)).body as JobView;
const hostOf = (job: JobView, name: string) => job.hosts.find((h) => h.host === name)!;

async function start(body: object): Promise<number> {
  const res = await as(admin).post('/api/projects/game/publish', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.jobId as number;
}
async function finished(id: number): Promise<JobView> {
  await t.jobs!.idle();
  return getJob(id);
}
/** Every target holds r1's bytes, published without waves. */
async function resetToV1() {
  const job = await finished(await start({ files: ['.'], revision: r1, groups: ['zone1', 'zone2'] }));
  expect(job.status, JSON.stringify(job.hosts)).toBe('succeeded');
  for (const h of ['a', 'b', 'c']) expect(bytesOf(h)).toBe('v1\n');
}

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b', 'c'], files: { 'trunk/app.txt': 'v1\n' } });
  r1 = 1;
  r2 = await fleet.svn.commit({ 'trunk/app.txt': 'v2\n' }, 'second build');
  t = await startTestApp({ engine: realEngine() });
  admin = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  const doc = fleet.importDoc({
    processes: [{ name: 'app', start: 'echo started >> restarts.log', stop: 'true', status: 'if [ -e broken ]; then echo "app is broken here"; exit 3; fi; echo running', groups: ['zone1', 'zone2'] }],
  }) as { projects: { groups: object }[] };
  doc.projects[0].groups = { zone1: ['a', 'b'], zone2: ['c'] };
  const res = await as(admin).post('/api/import', doc);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('publishing in waves', () => {
  it('publishes zone1 then zone2, restarting and checking the process on each wave before the next', async () => {
    await resetToV1();
    const before = { a: restartsOn('a'), b: restartsOn('b'), c: restartsOn('c') };
    const job = await finished(await start({ files: ['.'], revision: r2, groups: ['zone1', 'zone2'], waves: { by: 'group', restart: 'app', statusTimeoutSeconds: 20 } }));
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    expect(job.waves!.waves.map((w) => [w.label, w.hosts, w.status])).toEqual([['zone1', ['a', 'b'], 'done'], ['zone2', ['c'], 'done']]);
    for (const h of ['a', 'b', 'c']) {
      expect(bytesOf(h), h).toBe('v2\n');
      expect(restartsOn(h), h).toBe(before[h as 'a'] + 1);
      expect(hostOf(job, h).gate, h).toMatch(/^passed: app is running/);
      expect(hostOf(job, h).status).toBe('succeeded');
    }
    expect(job.hosts.map((h) => [h.host, h.wave])).toEqual([['a', 0], ['b', 0], ['c', 1]]);
    // The second wave publishes the package the first one built (the package cache), not a new export.
    // (The first wave packed it, or reused what the drift check before the publish packed.)
    expect(job.output).toMatch(/packed \d+ file\(s\) of r2|reusing the package of r2/);
    expect(job.output).toMatch(/reused \d+ file\(s\) of r2/);
  });

  it('stops before zone2 when the status check fails in zone1, then continue anyway and rollback of the waves done work', async () => {
    await resetToV1();
    const broken = path.join(dirOf('b'), 'broken');
    fs.writeFileSync(broken, '');
    let job: JobView;
    try {
      job = await finished(await start({ files: ['.'], revision: r2, groups: ['zone1', 'zone2'], waves: { by: 'group', restart: 'app', statusTimeoutSeconds: 2 } }));
    } finally {
      fs.rmSync(broken);
    }
    expect(job.status, JSON.stringify(job)).toBe('partial');
    expect(job.error).toMatch(/^Stopped: wave 1 of 2 \(zone1\) failed on host\(s\) b\. The hosts of later waves were not touched/);
    expect(hostOf(job, 'a')).toMatchObject({ status: 'succeeded', gate: expect.stringMatching(/^passed/) });
    expect(hostOf(job, 'b')).toMatchObject({ status: 'failed', phase: 'gate', gate: expect.stringMatching(/^failed: app not running after 2 s; last check: app is not running \(exit 3\)$/) });
    expect(hostOf(job, 'c')).toMatchObject({ status: 'skipped', gate: '', error: expect.stringMatching(/^skipped: wave 1 \(zone1\) failed on b/) });
    expect(job.waves!.waves.map((w) => w.status)).toEqual(['failed', 'skipped']);
    // zone2 was never touched: the old bytes, no restart, no snapshot.
    expect(bytesOf('a')).toBe('v2\n');
    expect(bytesOf('b')).toBe('v2\n');
    expect(bytesOf('c')).toBe('v1\n');
    expect(hostOf(job, 'c').snapshotTaken).toBe(false);

    // Without the publish grant: 403, no new job, the stopped job is not marked continued.
    const member = await t.addUser('rollbacker', 'member', { game: ['rollback'] });
    const memberToken = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, member.name);
    const jobsBefore = await t.db.job.count();
    expect((await as(memberToken).post(`/api/jobs/${job.id}/continue`)).status).toBe(403);
    expect(await t.db.job.count()).toBe(jobsBefore);
    expect((await getJob(job.id)).waves!.continuedByJobId).toBeUndefined();

    // Continue anyway: a new job publishes the waves left (zone2), same revision and files.
    const cont = await as(admin).post(`/api/jobs/${job.id}/continue`);
    expect(cont.status, JSON.stringify(cont.body)).toBe(201);
    const next = await finished(cont.body.jobId);
    expect(next.status, JSON.stringify(next)).toBe('succeeded');
    expect(next.note).toBe(`continues job #${job.id}`);
    expect(next.revision).toBe(r2);
    expect(next.hosts.map((h) => h.host)).toEqual(['c']);
    expect(next.waves).toMatchObject({ continuesJobId: job.id, waves: [{ label: 'zone2', hosts: ['c'], status: 'done' }] });
    expect(bytesOf('c')).toBe('v2\n');
    expect((await getJob(job.id)).waves!.continuedByJobId).toBe(next.id);
    const again = await as(admin).post(`/api/jobs/${job.id}/continue`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/already continued by job #/);
    const ops = await t.db.opLog.findMany({ where: { action: 'publish.continue', jobId: job.id } });
    expect(ops.map((o) => o.detail)).toEqual([expect.stringMatching(/^continue anyway: job #\d+ publishes the 1 wave\(s\) left to 1 host\(s\)/)]);

    // Roll back the waves done: the hosts this publish changed get their old bytes back; zone2 keeps the continuation.
    const rb = await as(admin).post(`/api/jobs/${job.id}/rollback`);
    expect(rb.status, JSON.stringify(rb.body)).toBe(201);
    expect((await finished(rb.body.jobId)).status).toBe('succeeded');
    expect(bytesOf('a')).toBe('v1\n');
    expect(bytesOf('b')).toBe('v1\n');
    expect(bytesOf('c')).toBe('v2\n');
  });

  it('waits paused between waves until someone clicks Continue', async () => {
    await resetToV1();
    const id = await start({ files: ['.'], revision: r2, groups: ['zone1', 'zone2'], waves: { by: 'group', manual: true } });
    const paused = await waitFor(async () => {
      const job = await getJob(id);
      return job.status === 'paused' ? job : undefined;
    }, 'the job to pause after wave 1', 30_000);
    expect(paused.waves!.waves.map((w) => w.status)).toEqual(['done', 'waiting']);
    expect(hostOf(paused, 'c')).toMatchObject({ status: 'queued', phase: 'waits for wave 2' });
    expect(bytesOf('c')).toBe('v1\n');
    // The paused job keeps the project's slot.
    const other = await as(admin).post('/api/projects/game/publish', { files: ['.'], groups: ['zone2'] });
    expect(other.status).toBe(409);

    // Someone without the publish grant cannot continue it, and nothing changes.
    const member = await t.addUser('watcher', 'member', { game: ['rollback', 'process'] });
    const memberToken = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, member.name);
    const refused = await as(memberToken).post(`/api/jobs/${id}/continue`);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/permission to publish/);
    expect((await as(memberToken).post(`/api/jobs/${id}/stop-waves`)).status).toBe(403);
    // A signed-in browser session must send its CSRF token, like every other button of the job page.
    const session = await t.login('ops-browser', 'admin');
    expect((await session.post(`/api/jobs/${id}/continue`).send({})).status).toBe(403);
    await new Promise((r) => setTimeout(r, 300));
    expect((await getJob(id)).status).toBe('paused');
    expect(bytesOf('c')).toBe('v1\n');
    expect(await t.db.opLog.count({ where: { action: 'publish.continue', result: 'denied', userName: 'watcher' } })).toBe(1);

    const cont = await as(admin).post(`/api/jobs/${id}/continue`);
    expect(cont.status, JSON.stringify(cont.body)).toBe(200);
    expect(cont.body.jobId).toBe(id);
    const job = await finished(id);
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    expect(job.waves!.waves.map((w) => w.status)).toEqual(['done', 'done']);
    for (const h of ['a', 'b', 'c']) expect(bytesOf(h), h).toBe('v2\n');
  });

  it('stops a paused publish between waves on request: later hosts untouched, then the waves done roll back', async () => {
    await resetToV1();
    const id = await start({ files: ['.'], revision: r2, groups: ['zone1', 'zone2'], waves: { by: 'group', manual: true } });
    await waitFor(async () => ((await getJob(id)).status === 'paused' ? true : undefined), 'the job to pause after wave 1', 30_000);
    const busy = await as(admin).post(`/api/jobs/${id}/rollback`);
    expect(busy.status).toBe(409);
    const stop = await as(admin).post(`/api/jobs/${id}/stop-waves`);
    expect(stop.status, JSON.stringify(stop.body)).toBe(200);
    const job = await finished(id);
    expect(job.status).toBe('partial');
    expect(job.error).toMatch(/^Stopped by ops before wave 2 of 2 \(zone2\)\. The hosts of later waves were not touched/);
    expect(hostOf(job, 'c')).toMatchObject({ status: 'skipped', error: 'skipped: ops stopped the publish before wave 2 of 2 (zone2)' });
    expect(job.waves!.waves.map((w) => w.status)).toEqual(['done', 'skipped']);
    expect(bytesOf('c')).toBe('v1\n');
    expect((await as(admin).post(`/api/jobs/${id}/stop-waves`)).status).toBe(409);
    const rb = await as(admin).post(`/api/jobs/${id}/rollback`);
    expect(rb.status, JSON.stringify(rb.body)).toBe(201);
    expect((await finished(rb.body.jobId)).status).toBe('succeeded');
    for (const h of ['a', 'b', 'c']) expect(bytesOf(h), h).toBe('v1\n');
  });

  it('after a restart, a job that was paused between waves is interrupted, its later hosts skipped, and can be continued anyway', async () => {
    await resetToV1();
    // The state a Ferry stopped during the pause leaves behind: wave 1 done on a and b, wave 2 (c) not started.
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    const hosts = await t.db.host.findMany({ where: { name: { in: ['a', 'b', 'c'] } }, orderBy: { name: 'asc' } });
    const waves = {
      by: 'group', statusTimeoutSeconds: 60, pauseSeconds: 0, manual: true,
      waves: [{ label: 'zone1', hosts: ['a', 'b'], status: 'done' }, { label: 'zone2', hosts: ['c'], status: 'waiting', message: 'waits for someone to click Continue' }],
    };
    const left = await t.db.job.create({
      data: {
        kind: 'publish', status: 'paused', projectId: project.id, userName: 'ops', revision: r2, files: '["."]', waves: JSON.stringify(waves), startedAt: new Date(),
        hosts: { create: hosts.map((h) => ({ hostId: h.id, hostName: h.name, wave: h.name === 'c' ? 1 : 0, status: h.name === 'c' ? 'queued' : 'succeeded', phase: h.name === 'c' ? 'queued' : 'done' })) },
      },
    });
    expect(await t.jobs!.markInterrupted()).toBe(1);
    const job = await getJob(left.id);
    expect(job.status).toBe('interrupted');
    expect(hostOf(job, 'a').status).toBe('succeeded');
    expect(hostOf(job, 'c')).toMatchObject({ status: 'skipped', error: expect.stringMatching(/Ferry stopped before this host's wave started; the host was not touched/) });
    expect(job.waves!.waves.map((w) => w.status)).toEqual(['done', 'skipped']);

    const cont = await as(admin).post(`/api/jobs/${left.id}/continue`);
    expect(cont.status, JSON.stringify(cont.body)).toBe(201);
    const next = await finished(cont.body.jobId);
    expect(next.status, JSON.stringify(next)).toBe('succeeded');
    expect(next.hosts.map((h) => h.host)).toEqual(['c']);
    expect(bytesOf('c')).toBe('v2\n');
  });

  it('retries a stopped publish in waves in the same waves, on the hosts it did not finish', async () => {
    await resetToV1();
    const broken = path.join(dirOf('b'), 'broken');
    fs.writeFileSync(broken, '');
    let stopped: JobView;
    try {
      stopped = await finished(await start({ files: ['.'], revision: r2, groups: ['zone1', 'zone2'], waves: { by: 'group', restart: 'app', statusTimeoutSeconds: 4 } }));
    } finally {
      fs.rmSync(broken);
    }
    expect(stopped.status).toBe('partial');
    const retry = await as(admin).post(`/api/jobs/${stopped.id}/retry`);
    expect(retry.status, JSON.stringify(retry.body)).toBe(201);
    const job = await finished(retry.body.jobId);
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    expect(job.waves).toMatchObject({ restart: 'app', waves: [{ label: 'zone1', hosts: ['b'], status: 'done' }, { label: 'zone2', hosts: ['c'], status: 'done' }] });
    for (const h of ['a', 'b', 'c']) expect(bytesOf(h), h).toBe('v2\n');
  });

  it('when the first wave cannot even be exported, stops with every host untouched and skipped', async () => {
    await resetToV1();
    const job = await finished(await start({ files: ['.'], revision: 999, groups: ['zone1', 'zone2'], waves: { by: 'group' } }));
    expect(job.status, JSON.stringify(job)).toBe('failed');
    expect(job.hosts.map((h) => [h.host, h.status])).toEqual([['a', 'skipped'], ['b', 'skipped'], ['c', 'skipped']]);
    expect(job.waves!.waves.map((w) => w.status)).toEqual(['failed', 'skipped']);
    for (const h of ['a', 'b', 'c']) expect(bytesOf(h), h).toBe('v1\n');
  });

  it('publishes in batches of N hosts in name order', async () => {
    const job = await finished(await start({ files: ['.'], revision: r1, groups: ['zone2', 'zone1'], waves: { by: 'batch', batchSize: 2, pauseSeconds: 1 } }));
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    expect(job.waves!.waves.map((w) => [w.label, w.hosts])).toEqual([['batch 1', ['a', 'b']], ['batch 2', ['c']]]);
  });

  it('refuses wave settings it cannot follow, in plain words', async () => {
    const cases: [unknown, RegExp][] = [
      [{ by: 'zone' }, /Waves go "by": "group"/],
      [{ by: 'batch' }, /need a batch size/],
      [{ by: 'batch', batchSize: 0 }, /The batch size must be a whole number from 1/],
      [{ by: 'group', restart: 'nope' }, /has no process "nope"/],
      [{ by: 'group', statusTimeoutSeconds: 5 }, /A status timeout needs a process to restart/],
      [{ by: 'group', pauseSeconds: -1 }, /The pause between waves \(seconds\) must be a whole number/],
      [{ by: 'group', manual: 'yes' }, /"manual" must be true or false/],
      [{ by: 'group', speed: 3 }, /Unknown wave setting "speed"/],
      ['zone1', /"waves" must be an object/],
    ];
    for (const [waves, message] of cases) {
      const res = await as(admin).post('/api/projects/game/publish', { files: ['.'], groups: ['zone1'], waves });
      expect(res.status, JSON.stringify(waves)).toBe(400);
      expect(res.body.error, JSON.stringify(waves)).toMatch(message);
    }
    const noGroups = await as(admin).post('/api/projects/game/publish', { files: ['.'], hosts: ['a', 'c'], waves: { by: 'group' } });
    expect(noGroups.status).toBe(400);
    expect(noGroups.body.error).toMatch(/needs the groups, in the order the waves should go/);
    const plain = await finished(await start({ files: ['.'], revision: r1, groups: ['zone1'] }));
    const notWaves = await as(admin).post(`/api/jobs/${plain.id}/continue`);
    expect(notWaves.status).toBe(400);
    expect(notWaves.body.error).toMatch(/is not a publish in waves/);
  });
});
