// Fault tolerance through the API: a connection cut mid-upload, a full disk during extraction, two users at once.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTcpProxy, type TcpProxy } from '../kit/sshd.ts';
import { startTestApp, csrf, realEngine } from '../helpers/app.ts';
import { mountTmpfs } from '../helpers/capabilities.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

const BIG = crypto.randomBytes(24 * 1024 * 1024);
let fleet: Fleet;
let proxy: TcpProxy;
let t: Awaited<ReturnType<typeof startTestApp>>;
let token: string;
const api = (method: 'get' | 'post', url: string, body?: object) => {
  const req = supertest(t.app)[method](url).set('Authorization', `Bearer ${token}`);
  return body ? req.send(body) : req;
};
async function waitJob(jobId: number) {
  await t.jobs!.idle();
  return (await api('get', `/api/jobs/${jobId}`)).body as { id: number; status: string; error: string | null; hosts: { host: string; status: string; error: string | null; snapshotTaken: boolean }[] };
}
const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b'], files: { 'trunk/conf/app.ini': 'v1\n', 'trunk/data/big.bin': BIG } });
  // Host a is reached through a TCP proxy that the test can cut, like a flaky network.
  proxy = await startTcpProxy(fleet.targets.a.port);
  t = await startTestApp({ engine: realEngine() });
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  const res = await api('post', '/api/import', fleet.importDoc({ hostOverrides: { a: { port: proxy.port } } }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  // A first release so every host has files that later publishes overwrite.
  const first = await api('post', '/api/projects/game/publish', { files: ['conf'], groups: ['zone1'] });
  expect((await waitJob(first.body.jobId)).status).toBe('succeeded');
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await proxy?.close();
  await fleet?.stop();
  await t?.cleanup();
});

/**
 * Points host b at a fresh tmpfs of `size`, publishes conf there once (so a later publish has files to overwrite),
 * runs `body` with the directory and conf/app.ini as it was, then puts host b back and unmounts.
 */
async function onSmallDisk(ctx: Parameters<typeof mountTmpfs>[0], name: string, size: string, body: (dir: string, before: string) => Promise<void>) {
  const small = path.join(fleet.targets.b.rootDir, name);
  fs.mkdirSync(small, { recursive: true });
  const unmount = mountTmpfs(ctx, small, size);
  // Ferry's record of b's files describes the directory it published to; swapping the directory under it would look
  // like hand edits (HostFile), so the record goes with the swap.
  const forgetRecord = () => t.db.hostFile.deleteMany({ where: { host: { name: 'b' } } });
  try {
    await forgetRecord();
    await t.db.host.update({ where: { name: 'b' }, data: { deployDir: small } });
    const seed = await waitJob((await api('post', '/api/projects/game/publish', { files: ['conf'], hosts: ['b'] })).body.jobId);
    expect(seed.status).toBe('succeeded');
    await body(small, fs.readFileSync(path.join(small, 'conf/app.ini'), 'utf8'));
  } finally {
    await t.db.host.update({ where: { name: 'b' }, data: { deployDir: fleet.targets.b.dir } });
    await forgetRecord();
    unmount();
  }
}

describe('faults', () => {
  it('a connection cut during the upload fails that host only, changes nothing on it, and a retry of it succeeds', async () => {
    await fleet.svn.commit({ 'trunk/conf/app.ini': 'v2\n' }, 'second');
    const res = await api('post', '/api/projects/game/publish', { files: ['conf', 'data'], groups: ['zone1'] });
    expect(res.status).toBe(201);
    const jobId = res.body.jobId as number;
    // Cut host a's connection in the middle of its upload: once a megabyte of the package has arrived.
    const part = path.join(fleet.targets.a.dir, '.ferry/incoming', `${jobId}.pkg.part`);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const size = fs.existsSync(part) ? fs.statSync(part).size : 0;
      if (size > 1024 * 1024) break;
      if (Date.now() > deadline) throw new Error('the upload to host a never started');
      await new Promise((r) => setTimeout(r, 2));
    }
    proxy.dropAll();
    const job = await waitJob(jobId);
    expect(job.status).toBe('partial');
    const a = job.hosts.find((h) => h.host === 'a')!;
    expect(a.status).toBe('failed');
    expect(a.error).toMatch(/connection|closed|lost|reset|terminat/i);
    expect(a.snapshotTaken).toBe(false);
    expect(fs.readFileSync(path.join(fleet.targets.a.dir, 'conf/app.ini'), 'utf8')).toBe('v1\n');
    expect(fs.existsSync(path.join(fleet.targets.a.dir, 'data/big.bin'))).toBe(false);
    expect(fs.readFileSync(path.join(fleet.targets.b.dir, 'conf/app.ini'), 'utf8')).toBe('v2\n');

    const retry = await api('post', `/api/jobs/${jobId}/retry`);
    expect(retry.status).toBe(201);
    const again = await waitJob(retry.body.jobId);
    expect(again.hosts.map((h) => h.host)).toEqual(['a']);
    expect(again.status).toBe('succeeded');
    expect(sha(path.join(fleet.targets.a.dir, 'data/big.bin'))).toBe(crypto.createHash('sha256').update(BIG).digest('hex'));
  });

  it('a full disk during extraction fails the host with that reason and restores its files from the snapshot', (ctx) =>
    onSmallDisk(ctx, 'small disk', '2m', async (small, before) => {
      // 3 MB of zeros packs into a few KB: the upload fits on the 2 MB disk, the extracted file does not.
      await fleet.svn.commit({ 'trunk/conf/app.ini': 'v3\n', 'trunk/zeros/z.bin': Buffer.alloc(3 * 1024 * 1024) }, 'third');
      const job = await waitJob((await api('post', '/api/projects/game/publish', { files: ['conf', 'zeros'], hosts: ['b'] })).body.jobId);
      expect(job.status).toBe('failed');
      expect(job.hosts[0].error).toMatch(/No space left on device/);
      expect(fs.readFileSync(path.join(small, 'conf/app.ini'), 'utf8')).toBe(before);
      expect(fs.existsSync(path.join(small, 'zeros/z.bin'))).toBe(false);
    }));

  it('a disk that fills up while the package arrives fails the host with that reason and changes nothing', (ctx) =>
    onSmallDisk(ctx, 'tiny disk', '4m', async (small, before) => {
      // 24 MB of random bytes cannot shrink: the package itself does not fit in .ferry/incoming.
      const job = await waitJob((await api('post', '/api/projects/game/publish', { files: ['conf', 'data'], hosts: ['b'] })).body.jobId);
      expect(job.status).toBe('failed');
      expect(job.hosts[0].error).toMatch(/writing the package to \.ferry\/incoming/);
      expect(job.hosts[0].error).toMatch(/No space left on device/);
      expect(job.hosts[0].snapshotTaken).toBe(false);
      expect(fs.readFileSync(path.join(small, 'conf/app.ini'), 'utf8')).toBe(before);
      expect(fs.existsSync(path.join(small, 'data'))).toBe(false);
      expect(fs.readdirSync(path.join(small, '.ferry/incoming'))).toEqual([]);
    }));

  it('two users publishing the same project at once: one wins, the other gets a clear refusal, nothing interleaves', async () => {
    const alice = await t.login('alice', 'member', { game: ['publish'] });
    const bob = await t.login('bob', 'member', { game: ['publish'] });
    const [ta, tb] = await Promise.all([csrf(alice), csrf(bob)]);
    const jobsBefore = await t.db.job.count();
    const [ra, rb] = await Promise.all([
      alice.post('/api/projects/game/publish').set('x-csrf-token', ta).send({ files: ['conf'], groups: ['zone1'] }),
      bob.post('/api/projects/game/publish').set('x-csrf-token', tb).send({ files: ['data'], groups: ['zone1'] }),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([201, 409]);
    const [winner, loser, winnerName] = ra.status === 201 ? [ra, rb, 'alice'] : [rb, ra, 'bob'];
    expect(loser.body.error).toBe(`Project "game" is busy: publish job #${winner.body.jobId} started by ${winnerName} is still running. Wait for it to finish, then try again.`);
    expect(await t.db.job.count()).toBe(jobsBefore + 1);
    expect((await waitJob(winner.body.jobId)).status).toBe('succeeded');
    expect(await t.db.opLog.count({ where: { action: 'publish', result: 'denied', userName: winnerName === 'alice' ? 'bob' : 'alice' } })).toBe(1);
  });
});
