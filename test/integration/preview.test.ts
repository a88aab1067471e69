// Preview, drift and diffs end to end: real svnserve, real sshd targets, real SQLite, the real engine. Ferry records
// what it put on each host, tells new/changed/unchanged/drifted files apart before a publish, refuses to overwrite hand
// edits unless told to, skips hosts where everything is in place, diffs revisions and hand edits, and checks drift.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { dashboard } from '../../src/services/dashboard.ts';
import { hostDetail, updateHost } from '../../src/services/config/hosts.ts';

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
const tokens: Record<string, string> = {};
const as = (user: string) => ({
  get: (url: string) => supertest(t.app).get(url).set('Authorization', `Bearer ${tokens[user]}`),
  post: (url: string, body: object = {}) => supertest(t.app).post(url).set('Authorization', `Bearer ${tokens[user]}`).send(body),
});
const targetFile = (host: string, rel: string) => path.join(fleet.targets[host].dir, rel);
const onTarget = (host: string, rel: string) => (fs.existsSync(targetFile(host, rel)) ? fs.readFileSync(targetFile(host, rel), 'utf8') : null);
const sha = (text: string) => crypto.createHash('sha256').update(text).digest('hex');
const jobRow = (id: number) => t.db.job.findUniqueOrThrow({ where: { id }, include: { hosts: { orderBy: { hostName: 'asc' } } } });
const recorded = async (host: string) => {
  const rows = await t.db.hostFile.findMany({ where: { host: { name: host } }, orderBy: { path: 'asc' } });
  return Object.fromEntries(rows.map((r) => [r.path, { sha256: r.sha256, size: r.size, jobId: r.jobId, revision: r.revision }]));
};

async function publish(body: object, user = 'ops'): Promise<number> {
  const res = await as(user).post('/api/projects/game/publish', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await t.jobs!.idle();
  return res.body.jobId as number;
}

const FILES = ['conf/app.ini', 'bin/server.sh'];
let r1: number;
let r2: number;

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b'], files: { 'trunk/conf/app.ini': 'port=1\n', 'trunk/bin/server.sh': 'echo one\n' } });
  t = await startTestApp({ engine: realEngine() });
  await t.addUser('ops', 'admin');
  tokens.ops = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'ops');
  expect((await as('ops').post('/api/import', fleet.importDoc())).status).toBe(201);
  await t.addUser('viewer', 'member', { game: ['rollback'] });
  tokens.viewer = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'viewer');
  r1 = await fleet.svn.commit({ 'trunk/conf/app.ini': 'port=1\nname=first\n' }, 'r1 config');
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

describe('what Ferry records on each host', () => {
  it('records the sha256 and size of every published file per host, and forgets a rolled-back publish', async () => {
    const first = await publish({ files: FILES, groups: ['zone1'], revision: r1 });
    expect((await jobRow(first)).status).toBe('succeeded');
    const ini = 'port=1\nname=first\n';
    for (const host of ['a', 'b']) {
      expect(await recorded(host)).toEqual({
        'bin/server.sh': { sha256: sha('echo one\n'), size: 9, jobId: first, revision: r1 },
        'conf/app.ini': { sha256: sha(ini), size: ini.length, jobId: first, revision: r1 },
      });
    }
    // A second publish of one file, then its rollback on both hosts: the rows it wrote are gone (not recorded).
    r2 = await fleet.svn.commit({ 'trunk/conf/app.ini': 'port=2\nname=second\n' }, 'r2 config');
    const second = await publish({ files: ['conf/app.ini'], groups: ['zone1'], revision: r2 });
    expect((await recorded('a'))['conf/app.ini']).toMatchObject({ jobId: second, revision: r2, sha256: sha('port=2\nname=second\n') });
    const rb = await as('ops').post(`/api/jobs/${second}/rollback`);
    expect(rb.status, JSON.stringify(rb.body)).toBe(201);
    await t.jobs!.idle();
    expect((await jobRow(rb.body.jobId)).status).toBe('succeeded');
    expect(onTarget('a', 'conf/app.ini')).toBe(ini);
    expect(Object.keys(await recorded('a'))).toEqual(['bin/server.sh']);
    // Publishing r1 again: Ferry no longer knows what is in conf/app.ini there, so it is sent (not judged unchanged),
    // and the files are recorded again.
    const again = await publish({ files: FILES, groups: ['zone1'], revision: r1 });
    expect((await jobRow(again)).hosts.map((h) => [h.hostName, h.status, h.phase])).toEqual([['a', 'succeeded', 'done'], ['b', 'succeeded', 'done']]);
    expect(await recorded('b')).toMatchObject({ 'conf/app.ini': { jobId: again, revision: r1, sha256: sha(ini) } });
  });
});

describe('preview', () => {
  it('splits the files per host into new, changed, unchanged and drifted after a hand edit on one target', async () => {
    r2 = await fleet.svn.commit({ 'trunk/conf/app.ini': 'port=3\nname=third\n', 'trunk/data/new.txt': 'fresh\n' }, 'r3');
    fs.writeFileSync(targetFile('a', 'bin/server.sh'), 'echo edited by hand\n');
    const res = await as('ops').get(`/api/projects/game/preview?revision=${r2}&files=conf/app.ini,bin/server.sh,data/new.txt&groups=zone1`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.revision).toBe(r2);
    expect(res.body.fileCount).toBe(3);
    const [a, b] = res.body.hosts;
    expect(a).toMatchObject({ host: 'a', reachable: true, new: ['data/new.txt'], changed: ['conf/app.ini'], unchanged: [] });
    expect(a.drifted).toEqual([{ path: 'bin/server.sh', recorded: expect.objectContaining({ sha256: sha('echo one\n'), size: 9 }), actual: { sha256: sha('echo edited by hand\n'), size: 20 } }]);
    expect(b).toMatchObject({ host: 'b', reachable: true, new: ['data/new.txt'], changed: ['conf/app.ini'], unchanged: ['bin/server.sh'], drifted: [] });
    // Nothing was changed anywhere.
    expect(onTarget('a', 'bin/server.sh')).toBe('echo edited by hand\n');
    expect(onTarget('b', 'data/new.txt')).toBeNull();
  });

  it('answers for the reachable hosts when one is down, saying so in plain words for the other', async () => {
    const port = (await t.db.host.findUniqueOrThrow({ where: { name: 'b' } })).port;
    await t.db.host.update({ where: { name: 'b' }, data: { port: 1 } });
    try {
      const res = await as('ops').get('/api/projects/game/preview?files=conf/app.ini&hosts=a&hosts=b');
      expect(res.status).toBe(200);
      expect(res.body.hosts[0]).toMatchObject({ host: 'a', reachable: true });
      expect(res.body.hosts[1].reachable).toBe(false);
      expect(res.body.hosts[1].error).toMatch(/b/);
    } finally {
      await t.db.host.update({ where: { name: 'b' }, data: { port } });
    }
  });

  it('needs the publish permission', async () => {
    const res = await as('viewer').get('/api/projects/game/preview?files=conf/app.ini&groups=zone1');
    expect(res.status).toBe(403);
  });
});

describe('diffs', () => {
  it('shows a text file between two revisions', async () => {
    const res = await as('ops').get(`/api/projects/game/diff?path=conf/app.ini&from=${r1}&to=${r2}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.kind).toBe('text');
    expect(res.body.diff).toContain('-port=1');
    expect(res.body.diff).toContain('+port=3');
  });

  it('shows a drifted file on a host against what Ferry put there', async () => {
    const res = await as('ops').get('/api/projects/game/diff?path=bin/server.sh&host=a');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ kind: 'text', to: 'a now', sizes: { from: { size: 9 }, to: { size: 20 } } });
    expect(res.body.diff).toContain('-echo one');
    expect(res.body.diff).toContain('+echo edited by hand');
  });
});

/** Logins and commands on a target's sshd since `from` (its log, LogLevel VERBOSE). */
const sshdCounts = (host: string, from: number) => {
  const log = fleet.targets[host].readLog().slice(from);
  return { logins: log.match(/Accepted publickey for /g)?.length ?? 0, commands: log.match(/Starting session: command /g)?.length ?? 0 };
};

describe('publishing over hand edits', () => {
  it('refuses on the host with hand edits (untouched, said plainly, logged), publishes the others; a retry with overwriteDrift replaces them', async () => {
    const body = { files: ['conf/app.ini', 'bin/server.sh', 'data/new.txt'], groups: ['zone1'], revision: r2 };
    const jobId = await publish(body);
    const job = await jobRow(jobId);
    expect(job.status).toBe('partial');
    const [a, b] = job.hosts;
    expect([a.status, b.status]).toEqual(['failed', 'succeeded']);
    expect(a.error).toBe('1 file on this host was edited by hand since Ferry\'s last release (bin/server.sh); nothing was changed. Publish again with "overwrite hand edits" ticked to replace it.');
    expect(a.output).toMatch(/edited by hand on this host since Ferry's last release:\n {2}bin\/server\.sh\n/);
    expect(a.snapshotTaken).toBe(false);
    // Nothing changed on a; b has the release.
    expect(onTarget('a', 'bin/server.sh')).toBe('echo edited by hand\n');
    expect(onTarget('a', 'conf/app.ini')).toBe('port=1\nname=first\n');
    expect(onTarget('a', 'data/new.txt')).toBeNull();
    expect(fs.readdirSync(targetFile('a', '.ferry/incoming'))).toEqual([]);
    expect(onTarget('b', 'conf/app.ini')).toBe('port=3\nname=third\n');
    expect(onTarget('b', 'data/new.txt')).toBe('fresh\n');
    const denied = await t.db.opLog.findFirst({ where: { action: 'publish', result: 'denied' }, orderBy: { id: 'desc' } });
    expect(denied).toMatchObject({ target: `job #${jobId}`, detail: 'files edited by hand were not overwritten on a: bin/server.sh' });
    // The job page offers the retry that overwrites them, and asks first; a job without such hosts does not.
    const browser = await t.login('ops');
    const jobPage = await browser.get(`/jobs/${jobId}`);
    expect(jobPage.text).toContain('id="retry-overwrite-button"');
    expect(jobPage.text).toContain('Replace the files edited by hand on 1 host with this release?');
    expect((await browser.get(`/jobs/${jobId - 1}`)).text).not.toContain('retry-overwrite-button');

    // A plain retry is refused the same way.
    const retry = await as('ops').post(`/api/jobs/${jobId}/retry`);
    expect(retry.status, JSON.stringify(retry.body)).toBe(201);
    await t.jobs!.idle();
    const refusedAgain = await jobRow(retry.body.jobId);
    expect(refusedAgain.hosts.map((h) => [h.hostName, h.status])).toEqual([['a', 'failed']]);
    expect(refusedAgain.hosts[0].error).toMatch(/edited by hand/);
    expect(onTarget('a', 'bin/server.sh')).toBe('echo edited by hand\n');

    // A retry with overwriteDrift replaces them, and says so in the operation log.
    const overwrite = await as('ops').post(`/api/jobs/${retry.body.jobId}/retry`, { overwriteDrift: true });
    expect(overwrite.status, JSON.stringify(overwrite.body)).toBe(201);
    await t.jobs!.idle();
    const replaced = await jobRow(overwrite.body.jobId);
    expect(replaced.status).toBe('succeeded');
    expect(replaced.hosts.map((h) => [h.hostName, h.status, h.phase])).toEqual([['a', 'succeeded', 'done']]);
    expect(replaced.hosts[0].output).toMatch(/bin\/server\.sh/);
    expect(onTarget('a', 'bin/server.sh')).toBe('echo one\n');
    expect(onTarget('a', 'data/new.txt')).toBe('fresh\n');
    const op = await t.db.opLog.findFirst({ where: { action: 'publish.overwrite-drift' }, orderBy: { id: 'desc' } });
    expect(op).toMatchObject({ result: 'ok', target: `job #${overwrite.body.jobId}`, detail: 'a: bin/server.sh' });
  });

  it('skips hosts where every file is already in place, and says so', async () => {
    fs.writeFileSync(targetFile('b', 'conf/app.ini'), 'port=99\n');
    // b differs (a hand edit), a has it all: only b is sent to (the hand edit is overwritten on purpose).
    const jobId = await publish({ files: ['conf/app.ini', 'data/new.txt'], groups: ['zone1'], revision: r2, overwriteDrift: true });
    const job = await jobRow(jobId);
    expect(job.status).toBe('succeeded');
    expect(job.hosts.map((h) => [h.hostName, h.status, h.phase])).toEqual([['a', 'succeeded', 'unchanged'], ['b', 'succeeded', 'done']]);
    expect(job.hosts[0].output).toMatch(/skipped: every file is already in place/);
    expect(onTarget('b', 'conf/app.ini')).toBe('port=3\nname=third\n');
  });
});

describe('one round trip per host', () => {
  it('a publish to hosts Ferry has records of costs one login and one command per host, the drift check included', async () => {
    const r4 = await fleet.svn.commit({ 'trunk/conf/app.ini': 'port=5\n' }, 'r4');
    const from = { a: fleet.targets.a.readLog().length, b: fleet.targets.b.readLog().length };
    const jobId = await publish({ files: ['conf/app.ini', 'data/new.txt'], groups: ['zone1'], revision: r4 });
    expect((await jobRow(jobId)).hosts.map((h) => [h.hostName, h.status, h.phase])).toEqual([['a', 'succeeded', 'done'], ['b', 'succeeded', 'done']]);
    expect(onTarget('a', 'conf/app.ini')).toBe('port=5\n');
    expect(sshdCounts('a', from.a)).toEqual({ logins: 1, commands: 1 });
    expect(sshdCounts('b', from.b)).toEqual({ logins: 1, commands: 1 });
    // The same publish again: every file is in place, each host says so in its one command.
    const middle = { a: fleet.targets.a.readLog().length, b: fleet.targets.b.readLog().length };
    const again = await publish({ files: ['conf/app.ini', 'data/new.txt'], groups: ['zone1'], revision: r4 });
    expect((await jobRow(again)).hosts.map((h) => [h.hostName, h.status, h.phase])).toEqual([['a', 'succeeded', 'unchanged'], ['b', 'succeeded', 'unchanged']]);
    expect(sshdCounts('a', middle.a)).toEqual({ logins: 1, commands: 1 });
    expect(sshdCounts('b', middle.b)).toEqual({ logins: 1, commands: 1 });
  });
});

describe('drift check', () => {
  it('lists the hosts whose files differ from the record, per file, and the dashboard says how many', async () => {
    fs.writeFileSync(targetFile('b', 'conf/app.ini'), 'port=4\n');
    fs.rmSync(targetFile('b', 'data/new.txt'));
    const res = await as('ops').post('/api/projects/game/drift', { groups: ['zone1'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await t.jobs!.idle();
    const job = await jobRow(res.body.jobId);
    expect(job).toMatchObject({ kind: 'drift', status: 'succeeded' });
    expect(job.hosts.map((h) => [h.hostName, h.phase])).toEqual([['a', 'clean'], ['b', 'drifted']]);
    expect(JSON.parse(job.hosts[0].drift)).toEqual([]);
    const findings = JSON.parse(job.hosts[1].drift) as { path: string; actual: unknown }[];
    expect(findings.map((f) => [f.path, f.actual])).toEqual([
      ['conf/app.ini', { sha256: sha('port=4\n'), size: 7 }],
      ['data/new.txt', null],
    ]);
    const board = await dashboard(t.svc, { actor: cliActor(), ip: 'cli' });
    expect(board.projects.find((p) => p.name === 'game')?.drift).toEqual({ jobId: job.id, hosts: ['b'] });
    const denied = await as('viewer').post('/api/projects/game/drift', {});
    expect(denied.status).toBe(403);
  });
});

describe('binary files', () => {
  it('answers a hand-edited binary file on a host with sizes and hashes only', async () => {
    const blob = Buffer.from([0, 1, 2, 3, 0, 255, 254]);
    const rev = await fleet.svn.commit({ 'trunk/data/blob.bin': blob }, 'a binary');
    await publish({ files: ['data/blob.bin'], hosts: ['a'], revision: rev });
    fs.writeFileSync(targetFile('a', 'data/blob.bin'), Buffer.from([0, 9, 9]));
    const res = await as('ops').get('/api/projects/game/diff?path=data/blob.bin&host=a');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      kind: 'binary', diff: '', note: expect.stringMatching(/binary/),
      sizes: { from: { size: 7, sha256: crypto.createHash('sha256').update(blob).digest('hex') }, to: { size: 3 } },
    });
  });
});

describe('a changed deploy directory', () => {
  it('forgets what Ferry recorded putting in the old one, so it is never taken for hand edits', async () => {
    const host = await t.db.host.findUniqueOrThrow({ where: { name: 'b' } });
    expect(await t.db.hostFile.count({ where: { hostId: host.id } })).toBeGreaterThan(0);
    const { host: form } = await hostDetail(t.svc, host.id);
    const ctx = { actor: cliActor(), ip: 'cli' };
    const { changed } = await updateHost(t.svc, ctx, host.id, { ...form, port: String(form.port), credentialId: String(form.credentialId), jumpHostId: '', hostKey: '', deployDir: `${fleet.targets.b.dir}/elsewhere` });
    expect(changed).toEqual(['deployDir']);
    expect(await t.db.hostFile.count({ where: { hostId: host.id } })).toBe(0);
    expect(await t.db.hostFile.count({ where: { host: { name: 'a' } } })).toBeGreaterThan(0);
  });
});
