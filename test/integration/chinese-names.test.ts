// Files and folders named in Chinese, end to end: committed to a real svnserve repository, listed by the tree API,
// previewed, published to a real sshd target under the same name with the same bytes, and compared (between two
// revisions, and on the host against what Ferry put there). svn runs in a UTF-8 locale (src/deploy/svn/cli.ts); with
// LANG=C it would print such paths as "?\E9..." and none of this would work. Also: the publish page and an svn error
// in Chinese for a request that asks for zh-CN.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp, realEngine } from '../helpers/app.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

const FILE = '配置/服务器.ini';
const FIRST = Buffer.from('[服务器]\n名称=一区\nport=7001\n', 'utf8');
const SECOND = Buffer.from('[服务器]\n名称=一区（新）\nport=7002\n', 'utf8');
const OTHER = '配置/说明 文档.txt';

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: (method: 'get' | 'post', url: string, body?: object) => supertest.Test;
let secondRev: number;

interface JobView { id: number; status: string; error: string | null; output: string; hosts: { host: string; status: string; output: string; error: string | null }[] }

const onTarget = (rel: string) => path.join(fleet.targets.a.dir, rel);

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a'], files: { [`trunk/${FILE}`]: FIRST, [`trunk/${OTHER}`]: '说明\n', 'trunk/readme.txt': 'plain\n' } });
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
});

describe('Chinese file and folder names', () => {
  it('lists a Chinese folder and the Chinese file in it through the tree API', async () => {
    const root = await api('get', '/api/projects/game/tree?path=&limit=50');
    expect(root.status, JSON.stringify(root.body)).toBe(200);
    expect(root.body.entries).toContainEqual(expect.objectContaining({ name: '配置', path: '配置', kind: 'dir' }));
    const folder = await api('get', `/api/projects/game/tree?path=${encodeURIComponent('配置')}&limit=50`);
    expect(folder.status, JSON.stringify(folder.body)).toBe(200);
    expect(folder.body.entries).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: '服务器.ini', path: FILE, kind: 'file', size: FIRST.length }),
      expect.objectContaining({ name: '说明 文档.txt', path: OTHER, kind: 'file' }),
    ]));
    const found = await api('get', `/api/projects/game/tree?path=${encodeURIComponent('配置')}&limit=50&filter=${encodeURIComponent('服务')}`);
    expect(found.body.entries.map((e: { path: string }) => e.path)).toEqual([FILE]);
  });

  it('previews, then publishes the Chinese file to the host under its Chinese name with the same bytes', async () => {
    const preview = await api('get', `/api/projects/game/preview?groups=zone1&files=${encodeURIComponent(FILE)}`);
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body.hosts[0]).toMatchObject({ host: 'a', reachable: true, new: [FILE], changed: [], drifted: [] });

    const res = await api('post', '/api/projects/game/publish', { groups: ['zone1'], files: ['配置'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await t.jobs!.idle();
    const job = (await api('get', `/api/jobs/${res.body.jobId}`)).body as JobView;
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    expect(fs.readFileSync(onTarget(FILE)).equals(FIRST)).toBe(true);
    expect(fs.readFileSync(onTarget(OTHER), 'utf8')).toBe('说明\n');
    expect(fs.readdirSync(onTarget('配置')).sort()).toEqual(['服务器.ini', '说明 文档.txt'].sort());
    expect(fs.existsSync(onTarget('readme.txt'))).toBe(false);

    // Ferry's record of the file is kept under the same name: a second preview finds it in place.
    const again = await api('get', `/api/projects/game/preview?groups=zone1&files=${encodeURIComponent(FILE)}`);
    expect(again.body.hosts[0]).toMatchObject({ unchanged: [FILE], new: [], changed: [], drifted: [] });
  });

  it('shows the diff of the Chinese file between two revisions, and on the host against what Ferry put there', async () => {
    secondRev = await fleet.svn.commit({ [`trunk/${FILE}`]: SECOND }, '改配置');
    const revs = await api('get', `/api/projects/game/diff?path=${encodeURIComponent(FILE)}&from=1&to=${secondRev}`);
    expect(revs.status, JSON.stringify(revs.body)).toBe(200);
    expect(revs.body).toMatchObject({ path: FILE, kind: 'text' });
    expect(revs.body.diff).toContain(`--- ${FILE}`);
    expect(revs.body.diff).toContain('-名称=一区\n');
    expect(revs.body.diff).toContain('+名称=一区（新）\n');

    fs.writeFileSync(onTarget(FILE), Buffer.concat([FIRST, Buffer.from('手工=改动\n', 'utf8')]));
    const onHost = await api('get', `/api/projects/game/diff?path=${encodeURIComponent(FILE)}&host=a`);
    expect(onHost.status, JSON.stringify(onHost.body)).toBe(200);
    expect(onHost.body).toMatchObject({ path: FILE, kind: 'text', to: 'a now' });
    expect(onHost.body.diff).toContain('+手工=改动\n');

    // The diff page itself, with the Chinese path in its heading and title.
    const agent = await t.login('ops');
    const page = await agent.get(`/projects/game/diff?path=${encodeURIComponent(FILE)}&host=a`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`<title>Diff of ${FILE}`);
    expect(page.text).toContain(`<span class="font-monospace">${FILE}</span>`);
  });

  it('publishes the new revision over the hand edit when told to, under the Chinese name', async () => {
    const res = await api('post', '/api/projects/game/publish', { groups: ['zone1'], files: [FILE], revision: secondRev, overwriteDrift: true });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await t.jobs!.idle();
    const job = (await api('get', `/api/jobs/${res.body.jobId}`)).body as JobView;
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    expect(fs.readFileSync(onTarget(FILE)).equals(SECOND)).toBe(true);
  });
});

describe('the publish area in Chinese', () => {
  it('renders the publish page in Chinese for Accept-Language: zh-CN, and in English without it', async () => {
    const agent = await t.login('ops');
    const zh = await agent.get('/projects/game/publish').set('Accept-Language', 'zh-CN');
    expect(zh.status).toBe(200);
    expect(zh.text).toContain('发布 game');
    expect(zh.text).toContain('1. 版本');
    expect(zh.text).toContain('审阅并发布…');
    const en = await agent.get('/projects/game/publish');
    expect(en.text).toContain('Review and publish…');
    expect(en.text).toContain('1. Revision');
  });

  it('shows an svn failure (a path that does not exist) in Chinese, with the Chinese path filled in', async () => {
    const missing = '配置/没有.ini';
    const en = await api('get', `/api/projects/game/diff?path=${encodeURIComponent(missing)}&from=1&to=${secondRev}`);
    expect(en.status).toBe(404);
    expect(en.body.error).toBe(`"${missing}" does not exist in revision ${secondRev}.`);
    const zh = await api('get', `/api/projects/game/diff?path=${encodeURIComponent(missing)}&from=1&to=${secondRev}`).set('Accept-Language', 'zh-CN');
    expect(zh.status).toBe(404);
    expect(zh.body.error).toBe(`版本 ${secondRev} 中不存在 “${missing}”。`);
  });

  it('shows a diff error with parameters in Chinese (a host not in the project)', async () => {
    const zh = await api('get', `/api/projects/game/diff?path=${encodeURIComponent(FILE)}&host=nohost`).set('Accept-Language', 'zh-CN');
    expect(zh.status).toBe(404);
    expect(zh.body.error).toBe('主机 “nohost” 不属于项目 “game”。');
  });
});
