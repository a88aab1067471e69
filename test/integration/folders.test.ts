// Big folders through the API and the real engine: the tree API's natural order, paging and search; "this folder
// except these" (exclude) checked like files, stored with the job, left out of the package, the manifest, the hosts
// and the before-publish hooks' view, and kept apart in the package cache. Real svnserve, sshd, SQLite.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: (method: 'get' | 'post', url: string, body?: object) => Promise<supertest.Response>;
const hookOut = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-folders-hook-'));

interface JobView { id: number; status: string; error: string | null; params: { exclude?: string[] }; output: string; hosts: { host: string; status: string; output: string }[] }

async function publish(body: object): Promise<JobView> {
  // Without a record of the hosts' files there is no drift check before the publish, which would pack the release
  // itself: the job's own log then says whether it packed or reused (what the cache tests look at).
  await t.db.hostFile.deleteMany();
  const res = await api('post', '/api/projects/game/publish', { groups: ['zone1'], ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await t.jobs!.idle();
  return (await api('get', `/api/jobs/${res.body.jobId}`)).body as JobView;
}
const onTarget = (rel: string) => fs.existsSync(path.join(fleet.targets.a.dir, rel));
/** Every message the job logged, wherever the runner puts them (job output or host output). */
const jobText = (job: JobView) => JSON.stringify(job);

beforeAll(async () => {
  const maps: Record<string, string> = {};
  for (const n of [5, 50, 4999, 1, 10, 2]) maps[`trunk/assets/maps/map_${n}.dat`] = `map ${n}\n`;
  fleet = await startFleet({
    targets: ['a'],
    files: {
      ...maps,
      'trunk/assets/maps/Map_6.dat': 'capital M\n',
      'trunk/assets/maps/zones/z1.dat': 'zone 1\n',
      'trunk/assets/maps/a_dir/x.dat': 'x\n',
      'trunk/assets/keep.txt': 'keep\n',
      'trunk/assets/skip.txt': 'skip\n',
      'trunk/assets/skipdir/inner.txt': 'inner\n',
      'trunk/assets/skipdir/back.txt': 'ticked again\n',
      'trunk/conf/app.ini': 'level=1\n',
      'trunk/docs/read me.txt': 'spaces\n',
      'trunk/docs/配置@2x.txt': '中文\n',
      'trunk/docs/sub dir/x': 'x\n',
      'trunk/docs/a*b[1]?.txt': 'glob\n',
      'trunk/docs/a-b1-.txt': 'not the glob one\n',
    },
  });
  t = await startTestApp({ engine: realEngine() });
  await t.addUser('ops', 'admin');
  const token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'ops');
  api = (method, url, body) => {
    const req = supertest(t.app)[method](url).set('Authorization', `Bearer ${token}`);
    return body ? req.send(body) : req;
  };
  const res = await api('post', '/api/import', fleet.importDoc());
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
  fs.rmSync(hookOut, { recursive: true, force: true });
});

describe('tree API for big folders', () => {
  it('lists folders first, then names in natural order ignoring case (map_5 before map_50)', async () => {
    const res = await api('get', '/api/projects/game/tree?path=assets/maps');
    expect(res.status).toBe(200);
    expect(res.body.map((e: { name: string }) => e.name)).toEqual(
      ['a_dir', 'zones', 'map_1.dat', 'map_2.dat', 'map_5.dat', 'Map_6.dat', 'map_10.dat', 'map_50.dat', 'map_4999.dat']);
  });

  it('pages with offset and limit and reports the total, and searches the folder by name on the server', async () => {
    const first = await api('get', '/api/projects/game/tree?path=assets/maps&offset=0&limit=3');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ total: 9, size: 9, offset: 0, limit: 3, filter: null });
    expect(first.body.entries.map((e: { name: string }) => e.name)).toEqual(['a_dir', 'zones', 'map_1.dat']);
    const second = await api('get', '/api/projects/game/tree?path=assets/maps&offset=3&limit=3');
    expect(second.body.entries.map((e: { name: string }) => e.name)).toEqual(['map_2.dat', 'map_5.dat', 'Map_6.dat']);
    const past = await api('get', '/api/projects/game/tree?path=assets/maps&offset=100&limit=3');
    expect(past.body).toMatchObject({ entries: [], total: 9 });

    const found = await api('get', `/api/projects/game/tree?path=assets/maps&limit=50&filter=${encodeURIComponent('MAP_5')}`);
    expect(found.body).toMatchObject({ total: 2, size: 9, filter: 'MAP_5' });
    expect(found.body.entries.map((e: { path: string }) => e.path)).toEqual(['assets/maps/map_5.dat', 'assets/maps/map_50.dat']);
    // Odd paging values are clamped, never an error; a bad path is still refused.
    expect((await api('get', '/api/projects/game/tree?path=assets/maps&offset=-4&limit=abc')).body).toMatchObject({ offset: 0, limit: 200, total: 9 });
    expect((await api('get', '/api/projects/game/tree?path=../x&limit=5')).status).toBe(400);
  });

  it('pages names with spaces, Chinese characters and @, with their sizes and last change', async () => {
    const res = await api('get', `/api/projects/game/tree?path=docs&limit=10`);
    expect(res.status).toBe(200);
    expect(res.body.entries).toEqual([
      expect.objectContaining({ name: 'sub dir', path: 'docs/sub dir', kind: 'dir', size: null, rev: 1, author: fleet.svn.username }),
      // Glob characters in names are escaped in the `svn list --search` that reads the page's details.
      expect.objectContaining({ name: 'a-b1-.txt', kind: 'file', size: 17 }),
      expect.objectContaining({ name: 'a*b[1]?.txt', kind: 'file', size: 5 }),
      expect.objectContaining({ name: 'read me.txt', path: 'docs/read me.txt', kind: 'file', size: 7, rev: 1 }),
      expect.objectContaining({ name: '配置@2x.txt', path: 'docs/配置@2x.txt', kind: 'file', size: Buffer.byteLength('中文\n'), rev: 1 }),
    ]);
    expect(res.body.entries[3].date).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('reuses the listing while paging: a commit shows up in a fresh listing, not in the cached one', async () => {
    const before = await api('get', '/api/projects/game/tree?path=assets&rev=1&limit=10');
    expect(before.status).toBe(200);
    const rev = await fleet.svn.commit({ 'trunk/assets/new.txt': 'new\n' }, 'one more');
    const atNew = await api('get', `/api/projects/game/tree?path=assets&rev=${rev}&limit=10`);
    expect(atNew.body.entries.map((e: { name: string }) => e.name)).toContain('new.txt');
    const again = await api('get', '/api/projects/game/tree?path=assets&rev=1&limit=10');
    expect(again.body).toEqual(before.body);
  });
});

describe('publishing a folder except some paths', () => {
  it('sends the folder minus the exclusions, stores them with the job, and ticks a file again inside an excluded folder', async () => {
    const job = await publish({ files: ['assets', 'assets/skipdir/back.txt'], exclude: ['assets/skip.txt', 'assets/skipdir', 'assets/maps/map_50.dat'] });
    expect(job.status, job.error ?? '').toBe('succeeded');
    expect(job.params.exclude).toEqual(['assets/maps/map_50.dat', 'assets/skip.txt', 'assets/skipdir']);
    for (const present of ['assets/keep.txt', 'assets/maps/map_5.dat', 'assets/maps/zones/z1.dat', 'assets/skipdir/back.txt']) expect(onTarget(present), present).toBe(true);
    for (const absent of ['assets/skip.txt', 'assets/maps/map_50.dat', 'assets/skipdir/inner.txt', 'conf/app.ini']) expect(onTarget(absent), absent).toBe(false);
    // The release journal on the host lists what Ferry put there: the manifest, without the excluded files.
    const ferryFiles = fs.readdirSync(path.join(fleet.targets.a.dir, '.ferry'), { recursive: true }).map(String);
    const journal = ferryFiles.map((f) => path.join(fleet.targets.a.dir, '.ferry', f)).filter((f) => fs.statSync(f).isFile())
      .map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    expect(journal).toContain('assets/keep.txt');
    expect(journal).not.toContain('assets/skip.txt');
    expect(journal).not.toContain('map_50.dat');
  });

  it('keeps packages with and without exclusions apart in the package cache', async () => {
    const whole = await publish({ files: ['assets'], revision: 1 });
    expect(whole.status, whole.error ?? '').toBe('succeeded');
    expect(onTarget('assets/skip.txt')).toBe(true);
    const except = await publish({ files: ['assets'], exclude: ['assets/skip.txt'], revision: 1 });
    expect(except.status, except.error ?? '').toBe('succeeded');
    expect(jobText(except)).not.toMatch(/reusing the package/);
    const exceptAgain = await publish({ files: ['assets'], exclude: ['assets/skip.txt'], revision: 1 });
    expect(jobText(exceptAgain)).toMatch(/reusing the package/);
    const wholeAgain = await publish({ files: ['assets'], revision: 1 });
    expect(jobText(wholeAgain)).toMatch(/reusing the package/);
    expect(onTarget('assets/skip.txt')).toBe(true);
  });

  it('refuses exclusions that escape the project or lie outside every selected folder, with 400 and no job', async () => {
    const jobs = await t.db.job.count();
    for (const [body, message] of [
      [{ files: ['assets'], exclude: ['assets/../conf'] }, /outside the project/],
      [{ files: ['assets'], exclude: ['/etc/passwd'] }, /absolute path/],
      [{ files: ['assets'], exclude: ['conf/app.ini'] }, /not inside a selected folder/],
      [{ files: ['assets'], exclude: ['assets'] }, /both selected and excluded/],
      [{ files: ['assets'], exclude: 'assets/skip.txt' }, /must be a list/],
    ] as const) {
      const res = await api('post', '/api/projects/game/publish', { groups: ['zone1'], ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatch(message);
    }
    expect(await t.db.job.count()).toBe(jobs);
  });

  it('lets before-publish hooks see the release without the excluded files, and tells them which were left out', async () => {
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    const listing = path.join(hookOut, 'seen.txt');
    const excluded = path.join(hookOut, 'excluded.txt');
    const hook = await t.db.hook.create({ data: { projectId: project.id, name: 'look', stage: 'before-publish', runOn: 'server',
      script: `find . -type f | sort > '${listing}'; cp "$FERRY_EXCLUDE" '${excluded}'` } });
    try {
      const job = await publish({ files: ['assets/maps'], exclude: ['assets/maps/zones', 'assets/maps/map_1.dat'] });
      expect(job.status, job.error ?? '').toBe('succeeded');
      const seen = fs.readFileSync(listing, 'utf8');
      expect(seen).toContain('./assets/maps/map_5.dat');
      expect(seen).not.toContain('zones');
      expect(seen).not.toContain('map_1.dat');
      expect(fs.readFileSync(excluded, 'utf8')).toBe('assets/maps/map_1.dat\nassets/maps/zones\n');
    } finally {
      await t.db.hook.delete({ where: { id: hook.id } });
    }
  });
  it('keeps the exclusions of a request through approval', async () => {
    await t.addUser('lead', 'admin');
    const leadToken = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'lead');
    await t.db.project.update({ where: { name: 'game' }, data: { requireApproval: true } });
    try {
      fs.rmSync(path.join(fleet.targets.a.dir, 'conf'), { recursive: true, force: true });
      const asked = await api('post', '/api/projects/game/publish', { groups: ['zone1'], files: ['conf', 'docs'], exclude: ['docs/read me.txt'] });
      expect(asked.status, JSON.stringify(asked.body)).toBe(202);
      const approved = await supertest(t.app).post(`/api/jobs/${asked.body.jobId}/approve`).set('Authorization', `Bearer ${leadToken}`).send({});
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      await t.jobs!.idle();
      const job = (await api('get', `/api/jobs/${asked.body.jobId}`)).body as JobView;
      expect(job.status, job.error ?? '').toBe('succeeded');
      expect(job.params.exclude).toEqual(['docs/read me.txt']);
      expect(onTarget('conf/app.ini')).toBe(true);
      expect(onTarget('docs/配置@2x.txt')).toBe(true);
      expect(onTarget('docs/read me.txt')).toBe(false);
    } finally {
      await t.db.project.update({ where: { name: 'game' }, data: { requireApproval: false } });
    }
  });
});
