// The release API end to end: real svnserve, real sshd targets (one behind a jump host), real SQLite, the real engine.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import supertest from 'supertest';
import { startSvnServer, freePort, type SvnServer } from '../kit/svnserve.ts';
import { startSshd, type SshdHandle } from '../kit/sshd.ts';
import { startTestApp, csrf, realEngine } from '../helpers/app.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { JobRunner } from '../../src/services/jobs/index.ts';

const CTL = `#!/bin/sh
# ctl.sh start|stop|status NAME: a background sleep with a pid file, like many real start scripts.
pidfile="run/$2.pid"
alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
case "$1" in
  start) mkdir -p run; if alive; then echo "already running"; exit 0; fi
         nohup sleep 4322 >/dev/null 2>&1 & echo $! > "$pidfile"; echo "started $2";;
  stop)  if alive; then kill "$(cat "$pidfile")"; fi; rm -f "$pidfile"; echo "stopped $2";;
  status) if alive; then echo "running"; exit 0; fi; echo "not running"; exit 3;;
esac
`;

let svn: SvnServer;
let relay: SshdHandle, a: SshdHandle, b: SshdHandle;
let t: Awaited<ReturnType<typeof startTestApp>>;
let token: string;
let api: (method: 'get' | 'post', url: string, body?: object) => Promise<supertest.Response>;

const read = (h: SshdHandle, rel: string) => fs.readFileSync(path.join(h.dir, rel), 'utf8');
const modeOf = (h: SshdHandle, rel: string) => fs.statSync(path.join(h.dir, rel)).mode & 0o777;
const exists = (h: SshdHandle, rel: string) => fs.existsSync(path.join(h.dir, rel));
/** The file's text, or null when it is absent (tests may run alone, before anything was published). */
const readIfAny = (h: SshdHandle, rel: string) => (exists(h, rel) ? read(h, rel) : null);

async function publish(body: object) {
  const res = await api('post', '/api/projects/game/publish', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return waitJob(res.body.jobId);
}
async function waitJob(jobId: number) {
  await t.jobs!.idle();
  const res = await api('get', `/api/jobs/${jobId}`);
  return res.body as { id: number; status: string; revision: number; error: string | null; hosts: { host: string; status: string; error: string | null; output: string }[] };
}
const hostOf = (job: Awaited<ReturnType<typeof waitJob>>, name: string) => job.hosts.find((h) => h.host === name)!;

beforeAll(async () => {
  svn = await startSvnServer();
  await svn.commit({
    'trunk/bin/server': { content: '#!/bin/sh\necho v1\n', executable: true },
    'trunk/bin/ctl.sh': { content: CTL, executable: true },
    'trunk/conf/app.ini': 'level=1\n',
    'trunk/docs/read me.txt': 'spaces v1\n',
    'trunk/配置/服务器.txt': '中文 v1\n',
  }, 'first build');
  [relay, a, b] = await Promise.all([startSshd({ logLevel: 'DEBUG1' }), startSshd(), startSshd()]);
  t = await startTestApp({ engine: realEngine() });
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  api = (method, url, body) => {
    const req = supertest(t.app)[method](url).set('Authorization', `Bearer ${token}`);
    return body ? req.send(body) : req;
  };
  const res = await api('post', '/api/import', {
    credentials: [
      { name: 'relay-key', username: relay.username, privateKey: relay.clientKey },
      { name: 'a-key', username: a.username, privateKey: a.encryptedClientKey, passphrase: a.passphrase },
      { name: 'b-key', username: b.username, privateKey: b.clientKey },
    ],
    hosts: [
      { name: 'relay', address: '127.0.0.1', port: relay.port, credential: 'relay-key' },
      { name: 'a', address: '127.0.0.1', port: a.port, credential: 'a-key', deployDir: a.dir },
      { name: 'b', address: '127.0.0.1', port: b.port, credential: 'b-key', jump: 'relay', deployDir: b.dir, hostKey: b.hostKey },
    ],
    projects: [{
      name: 'game', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPassword: svn.password, deployDir: '/srv/unused',
      keepSnapshots: 10, groups: { zone1: ['a', 'b'] },
      processes: [{ name: 'zone1', start: 'sh bin/ctl.sh start zone1', stop: 'sh bin/ctl.sh stop zone1', status: 'sh bin/ctl.sh status zone1', groups: ['zone1'] }],
      hooks: [{ stage: 'after-publish', name: 'mark', script: 'echo "after-publish on $FERRY_HOST r$FERRY_REVISION by $FERRY_USER" >> hook.log; cat "$FERRY_FILES" > published.txt' }],
    }],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await Promise.all([svn?.stop(), relay?.stop(), a?.stop(), b?.stop()]);
  await t?.cleanup();
});

describe('SVN browsing', () => {
  it('lists a directory and the log with names that have spaces and Chinese characters', async () => {
    const tree = await api('get', '/api/projects/game/tree?path=');
    expect(tree.status).toBe(200);
    expect(tree.body.map((e: { name: string }) => e.name).sort()).toEqual(['bin', 'conf', 'docs', '配置']);
    const sub = await api('get', `/api/projects/game/tree?path=${encodeURIComponent('配置')}`);
    expect(sub.body).toEqual([expect.objectContaining({ name: '服务器.txt', path: '配置/服务器.txt', kind: 'file', size: Buffer.byteLength('中文 v1\n'), author: svn.username })]);
    const log = await api('get', '/api/projects/game/log?limit=5');
    expect(log.body[0]).toMatchObject({ message: 'first build', author: svn.username });
    expect(log.body[0].paths.map((p: { path: string }) => p.path)).toContain('conf/app.ini');
  });

  it('explains a wrong SVN password in plain words, in the API and in a publish job', async () => {
    await t.db.project.create({ data: { name: 'badpw', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPasswordEnc: (await import('../../src/lib/crypto.ts')).encryptSecret(t.svc.secretKey, 'wrong-password'), deployDir: '/srv/x', groups: { create: { name: 'g', hosts: { connect: { name: 'a' } } } } } });
    const tree = await api('get', '/api/projects/badpw/tree');
    expect(tree.status).toBe(502);
    expect(tree.body.error).toMatch(/rejected the login: check the username and password/i);
    const logFrom = a.readLog().length;
    const res = await api('post', '/api/projects/badpw/publish', { files: ['conf'], groups: ['g'] });
    const job = await waitJob(res.body.jobId);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/rejected the login: check the username and password/i);
    expect(fs.existsSync(path.join(a.dir, 'conf'))).toBe(false);
    // The host's connection, opened while SVN answered, is closed with the job: no login is left behind.
    await vi.waitFor(() => {
      const log = a.readLog().slice(logFrom);
      expect(log.match(/Accepted publickey/g)?.length).toBe(1);
      expect(log.match(/Disconnected from user/g)?.length).toBe(1);
    }, { timeout: 5000 });
  });
});

describe('publish and rollback', () => {
  it('publishes files to a direct host and a host behind a jump host with the exact bytes and modes', async () => {
    const job = await publish({ files: ['bin', 'conf/app.ini', 'docs/read me.txt', '配置/服务器.txt'], groups: ['zone1'], note: 'first' });
    expect(job.status, JSON.stringify(job.hosts)).toBe('succeeded');
    expect(job.revision).toBe(1);
    for (const h of [a, b]) {
      expect(read(h, 'bin/server')).toBe('#!/bin/sh\necho v1\n');
      expect(modeOf(h, 'bin/server') & 0o111).not.toBe(0);
      expect(modeOf(h, 'conf/app.ini') & 0o111).toBe(0);
      expect(read(h, 'docs/read me.txt')).toBe('spaces v1\n');
      expect(read(h, '配置/服务器.txt')).toBe('中文 v1\n');
      expect(read(h, 'hook.log')).toMatch(/after-publish on (a|b) r1 by ops/);
      expect(read(h, 'published.txt')).toContain('配置/服务器.txt');
      expect(exists(h, `.ferry/snapshots/${job.id}.tar.gz`)).toBe(true);
    }
    // b was reached through the relay's forwarding, and a's key was pinned on first connect.
    expect(relay.readLog()).toMatch(new RegExp(`direct_tcpip.*target 127\\.0\\.0\\.1 port ${b.port}`));
    expect((await t.db.host.findUniqueOrThrow({ where: { name: 'a' } })).hostKey).toBe(a.hostKey);
    expect(await t.db.opLog.count({ where: { jobId: job.id, action: 'publish.finish', result: 'ok' } })).toBe(1);
  });

  it('rolls back two stacked publishes newest first, restoring old bytes and removing added files', async () => {
    // The release the rollback must bring back: this test's own, so it does not depend on the one above.
    const base = await publish({ files: ['conf/app.ini', 'bin/server'], groups: ['zone1'] });
    expect(base.status).toBe('succeeded');
    expect(read(a, 'conf/app.ini')).toBe('level=1\n');
    await svn.commit({ 'trunk/conf/app.ini': 'level=2\n', 'trunk/conf/new.ini': 'added in r2\n' }, 'second');
    const second = await publish({ files: ['conf'], groups: ['zone1'] });
    expect(second.status).toBe('succeeded');
    await svn.commit({ 'trunk/conf/app.ini': 'level=3\n', 'trunk/bin/server': { content: '#!/bin/sh\necho v3\n', executable: true } }, 'third');
    const third = await publish({ files: ['conf', 'bin/server'], groups: ['zone1'] });
    expect(third.status).toBe('succeeded');
    expect(read(a, 'conf/app.ini')).toBe('level=3\n');

    const plan = await api('get', `/api/jobs/${second.id}/rollback-plan`);
    expect(plan.body.undoes).toEqual([third.id, second.id]);
    const res = await api('post', `/api/jobs/${second.id}/rollback`);
    expect(res.status).toBe(201);
    const rollback = await waitJob(res.body.jobId);
    expect(rollback.status, JSON.stringify(rollback.hosts)).toBe('succeeded');
    for (const h of [a, b]) {
      expect(read(h, 'conf/app.ini')).toBe('level=1\n');
      expect(exists(h, 'conf/new.ini')).toBe(false);
      expect(read(h, 'bin/server')).toBe('#!/bin/sh\necho v1\n');
      expect(modeOf(h, 'bin/server') & 0o111).not.toBe(0);
    }
    // Rolled-back publishes are not undone twice.
    const again = await api('get', `/api/jobs/${third.id}/rollback-plan`);
    expect(again.body.undoes).toEqual([]);
    // The base release is not part of the rollback and stays undoable, unless it changed nothing: after the test above
    // every file was already in place, so its hosts were skipped (no upload, no snapshot) and there is nothing to undo.
    const skipped = base.hosts.every((h) => (h as { phase?: string }).phase === 'unchanged');
    expect((await api('get', `/api/jobs/${base.id}/rollback-plan`)).body.undoes).toEqual(skipped ? [] : [base.id]);
  });

  it('refuses a path that escapes the project before anything runs', async () => {
    const before = await t.db.job.count();
    for (const files of [['../etc/passwd'], ['/etc/passwd'], ['conf/../../x']]) {
      const res = await api('post', '/api/projects/game/publish', { files, groups: ['zone1'] });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/outside|absolute|\.\./i);
    }
    expect(await t.db.job.count()).toBe(before);
  });

  it('refuses a second publish of the same project while one runs (409 naming the job and user)', async () => {
    const [r1, r2] = await Promise.all([
      api('post', '/api/projects/game/publish', { files: ['conf'], groups: ['zone1'] }),
      api('post', '/api/projects/game/publish', { files: ['conf'], groups: ['zone1'] }),
    ]);
    const statuses = [r1.status, r2.status].sort();
    expect(statuses).toEqual([201, 409]);
    const refused = r1.status === 409 ? r1 : r2;
    const accepted = r1.status === 201 ? r1 : r2;
    expect(refused.body.error).toContain(`job #${accepted.body.jobId}`);
    expect(refused.body.error).toContain('ops');
    expect((await waitJob(accepted.body.jobId)).status).toBe('succeeded');
  });

  it('a failing before-publish hook aborts the job and touches no host', async () => {
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    const hook = await t.db.hook.create({ data: { projectId: project.id, name: 'gate', stage: 'before-publish', runOn: 'server', script: 'echo "checking $FERRY_REVISION"; test -f conf/app.ini && exit 3' } });
    await svn.commit({ 'trunk/conf/app.ini': 'level=4\n' }, 'fourth');
    const before = readIfAny(a, 'conf/app.ini');
    const job = await publish({ files: ['conf'], groups: ['zone1'] });
    await t.db.hook.delete({ where: { id: hook.id } });
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/before-publish hook gate failed \(exit 3\); no host was touched/);
    expect(readIfAny(a, 'conf/app.ini')).toBe(before);
    expect(before).not.toBe('level=4\n');
    expect(exists(a, `.ferry/snapshots/${job.id}.tar.gz`)).toBe(false);
    expect(exists(b, `.ferry/incoming/${job.id}.pkg`)).toBe(false);
  });

  it('a failing after-publish hook fails only that host', async () => {
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    const hook = await t.db.hook.create({ data: { projectId: project.id, name: 'only-a', stage: 'after-publish', runOn: 'target', position: 5, script: 'if [ "$FERRY_HOST" = b ]; then echo "b refuses" >&2; exit 7; fi' } });
    const job = await publish({ files: ['conf'], groups: ['zone1'] });
    await t.db.hook.delete({ where: { id: hook.id } });
    expect(job.status).toBe('partial');
    expect(hostOf(job, 'a').status).toBe('succeeded');
    expect(hostOf(job, 'b').status).toBe('failed');
    expect(hostOf(job, 'b').error).toMatch(/only-a.*7|7.*only-a/);
    expect(hostOf(job, 'b').output).toContain('b refuses');
  });

  it('an unreachable host fails alone with a clear error', async () => {
    const closed = await freePort();
    const cred = await t.db.credential.findUniqueOrThrow({ where: { name: 'b-key' } });
    const group = await t.db.hostGroup.findFirstOrThrow({ where: { name: 'zone1' } });
    await t.db.host.create({ data: { name: 'ghost', address: '127.0.0.1', port: closed, credentialId: cred.id, deployDir: '/tmp/ghost', groups: { connect: { id: group.id } } } });
    const job = await publish({ files: ['conf/app.ini'], hosts: ['a', 'ghost'] });
    await t.db.host.delete({ where: { name: 'ghost' } });
    expect(job.status).toBe('partial');
    expect(hostOf(job, 'a').status).toBe('succeeded');
    expect(hostOf(job, 'ghost').error).toMatch(/refused/i);
  });

  it('refuses a host whose key changed and changes nothing on it', async () => {
    // A publish first, so a's key is pinned and a holds a release to keep.
    expect((await publish({ files: ['conf/app.ini'], hosts: ['a'] })).status).toBe('succeeded');
    expect((await t.db.host.findUniqueOrThrow({ where: { name: 'a' } })).hostKey).toBe(a.hostKey);
    const before = read(a, 'conf/app.ini');
    await svn.commit({ 'trunk/conf/app.ini': 'level=5\n' }, 'fifth');
    await a.restartWithNewHostKey();
    const job = await publish({ files: ['conf/app.ini'], hosts: ['a'] });
    expect(job.status).toBe('failed');
    expect(hostOf(job, 'a').error).toMatch(/host key changed/);
    expect(read(a, 'conf/app.ini')).toBe(before);
    // The operator clears the pin after checking the server was reinstalled; the next publish works.
    await t.db.host.update({ where: { name: 'a' }, data: { hostKey: null } });
    expect((await publish({ files: ['conf/app.ini'], hosts: ['a'] })).status).toBe('succeeded');
    expect(read(a, 'conf/app.ini')).toBe('level=5\n');
  });

  it('streams job events as SSE: a snapshot, then the final state', async () => {
    const last = await publish({ files: ['conf/app.ini'], hosts: ['a'] });
    expect(last.status).toBe('succeeded');
    const res = await supertest(t.app).get(`/api/jobs/${last.id}/events`).set('Authorization', `Bearer ${token}`)
      .buffer(true).parse((r, cb) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () => cb(null, text));
      });
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    expect(res.body).toMatch(/^event: snapshot\ndata: \{/);
    expect(JSON.parse(/^event: snapshot\ndata: (.*)\n/.exec(res.body)![1])).toMatchObject({ id: last.id, kind: 'publish' });
    expect(res.body).toMatch(/event: end\ndata: .*"status":"succeeded"/);
  });
});

describe('process control', () => {
  it('starts, reports and stops a real process on every host of a group', async () => {
    await publish({ files: ['bin'], groups: ['zone1'] });
    const start = await api('post', '/api/projects/game/processes', { action: 'start', groups: ['zone1'] });
    expect(start.status).toBe(201);
    expect((await waitJob(start.body.jobId)).status).toBe('succeeded');
    const status = await waitJob((await api('post', '/api/projects/game/processes', { action: 'status' })).body.jobId);
    expect(status.status).toBe('succeeded');
    expect(hostOf(status, 'a').output).toContain('zone1: running');
    const stop = await waitJob((await api('post', '/api/projects/game/processes', { action: 'stop', hosts: ['b'] })).body.jobId);
    expect(stop.hosts.map((h) => h.host)).toEqual(['b']);
    const after = await waitJob((await api('post', '/api/projects/game/processes', { action: 'status', processes: ['zone1'] })).body.jobId);
    expect(after.status).toBe('partial');
    expect(hostOf(after, 'b').error).toMatch(/not running \(exit 3\)/);
    expect(hostOf(after, 'a').status).toBe('succeeded');
    await waitJob((await api('post', '/api/projects/game/processes', { action: 'stop' })).body.jobId);
  });
});

describe('rolling process control', () => {
  // Each test publishes bin/ctl.sh itself, so it can run alone.
  const publishCtl = async () => expect((await publish({ files: ['bin'], groups: ['zone1'] })).status).toBe('succeeded');
  /** Adds process "flaky" (its status check always fails on a) for the duration of `body`. */
  async function withFlakyProcess(body: () => Promise<void>) {
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    const zone1 = await t.db.hostGroup.findFirstOrThrow({ where: { projectId: project.id, name: 'zone1' } });
    await t.db.process.create({ data: {
      projectId: project.id, name: 'flaky', startCmd: 'sh bin/ctl.sh start flaky', stopCmd: 'sh bin/ctl.sh stop flaky',
      statusCmd: 'test "$FERRY_HOST" != a && sh bin/ctl.sh status flaky', groups: { connect: { id: zone1.id } },
    } });
    try {
      await body();
    } finally {
      await waitJob((await api('post', '/api/projects/game/processes', { action: 'stop' })).body.jobId);
      await t.db.process.delete({ where: { projectId_name: { projectId: project.id, name: 'flaky' } } });
    }
  }
  const restartFlaky = async () => {
    const res = await api('post', '/api/projects/game/processes', { action: 'restart', processes: ['flaky'], groups: ['zone1'], batchSize: 1 });
    expect(res.status).toBe(201);
    return waitJob(res.body.jobId);
  };

  it('restarts a group in batches and stops at the first batch whose status check fails', async () => {
    await publishCtl();
    await withFlakyProcess(async () => {
      const job = await restartFlaky();
      expect(job.status).toBe('failed');
      expect(job.error).toMatch(/stopped at batch 1 \(a failed\)\. Done: no host/);
      expect(hostOf(job, 'a').error).toMatch(/status check failed/);
      expect(hostOf(job, 'b')).toMatchObject({ status: 'skipped' });
      // b was never touched: its process is not running.
      expect(fs.existsSync(path.join(b.dir, 'run/flaky.pid'))).toBe(false);

      const ok = await waitJob((await api('post', '/api/projects/game/processes', { action: 'restart', processes: ['zone1'], batchPercent: 50 })).body.jobId);
      expect(ok.status, JSON.stringify(ok.hosts)).toBe('succeeded');
      expect(ok.hosts.map((h) => h.host)).toEqual(['a', 'b']);
      for (const h of ok.hosts) expect(h.output, h.host).toContain('zone1: running');
    });
  });

  it('a rolling stop succeeds when every host is stopped afterwards', async () => {
    await publishCtl();
    expect((await waitJob((await api('post', '/api/projects/game/processes', { action: 'start', processes: ['zone1'] })).body.jobId)).status).toBe('succeeded');
    expect(fs.existsSync(path.join(a.dir, 'run/zone1.pid'))).toBe(true);
    const stop = await waitJob((await api('post', '/api/projects/game/processes', { action: 'stop', processes: ['zone1'], batchSize: 1 })).body.jobId);
    expect(stop.status, JSON.stringify(stop.hosts)).toBe('succeeded');
    expect(fs.existsSync(path.join(a.dir, 'run/zone1.pid'))).toBe(false);
  });

  it('retries a job on its failed hosts only', async () => {
    await publishCtl();
    await withFlakyProcess(async () => {
      const failed = await restartFlaky();
      expect(failed.status).toBe('failed');
      const res = await api('post', `/api/jobs/${failed.id}/retry`);
      expect(res.status).toBe(201);
      const retry = await waitJob(res.body.jobId);
      expect(retry.hosts.map((h) => h.host)).toEqual(['a', 'b']);
      // Same action, processes and batches as the original: a still fails its status check, so b is skipped again.
      expect(retry.error).toMatch(/stopped at batch 1/);
      expect(hostOf(retry, 'b')).toMatchObject({ status: 'skipped' });
    });
    const ok = await publish({ files: ['conf/app.ini'], hosts: ['a'] });
    expect(ok.status).toBe('succeeded');
    const none = await api('post', `/api/jobs/${ok.id}/retry`);
    expect(none.status).toBe(400);
    expect(none.body.error).toMatch(/nothing to retry/);
  });
});

describe('permissions on the API', () => {
  it('refuses members without the grant on every job route, and changes nothing', async () => {
    const agent = await t.login('dev', 'member', { game: ['publish'] });
    const outsider = await t.login('outsider', 'member');
    const token = await csrf(agent);
    const csrf2 = await csrf(outsider);
    const anyJob = await publish({ files: ['conf/app.ini'], hosts: ['a'] });
    const jobsBefore = await t.db.job.count();

    expect((await agent.post(`/api/jobs/${anyJob.id}/rollback`).set('x-csrf-token', token)).status).toBe(403);
    expect((await agent.post('/api/projects/game/processes').set('x-csrf-token', token).send({ action: 'stop' })).status).toBe(403);
    for (const [method, url] of [
      ['get', '/api/projects/game/tree'], ['get', '/api/projects/game/log'],
      ['post', '/api/projects/game/publish'], ['post', '/api/projects/game/processes'],
    ] as const) {
      const res = await outsider[method](url).set('x-csrf-token', csrf2).send({ files: ['conf'], groups: ['zone1'], action: 'status' });
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error).toMatch(/permission|no access/);
    }
    // A job of a project the outsider cannot see is answered exactly like a job that does not exist.
    for (const [method, url] of [
      ['get', `/api/jobs/${anyJob.id}`], ['get', `/api/jobs/${anyJob.id}/events`], ['get', `/api/jobs/${anyJob.id}/rollback-plan`],
      ['post', `/api/jobs/${anyJob.id}/rollback`], ['post', `/api/jobs/${anyJob.id}/retry`],
    ] as const) {
      const res = await outsider[method](url).set('x-csrf-token', csrf2).send({});
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.error).toBe(`Job #${anyJob.id} does not exist.`);
    }
    const auditor = await t.login('aud', 'auditor');
    const csrf3 = await csrf(auditor);
    expect((await auditor.get(`/api/jobs/${anyJob.id}`)).status).toBe(200);
    expect((await auditor.post('/api/projects/game/publish').set('x-csrf-token', csrf3).send({ files: ['conf'], groups: ['zone1'] })).status).toBe(403);
    expect(await t.db.job.count()).toBe(jobsBefore);
    expect(await t.db.opLog.count({ where: { userName: { in: ['dev', 'outsider', 'aud'] }, result: 'denied' } })).toBeGreaterThanOrEqual(10);
  });
});

describe('renamed hosts', () => {
  it('rolls back a publish on a host renamed since, and marks it rolled back', async () => {
    // A release of its own for the rollback to return to.
    expect((await publish({ files: ['conf/app.ini'], hosts: ['a'] })).status).toBe('succeeded');
    const before = read(a, 'conf/app.ini');
    await svn.commit({ 'trunk/conf/app.ini': 'level=renamed\n' }, 'before rename');
    const job = await publish({ files: ['conf/app.ini'], hosts: ['a'] });
    expect(job.status).toBe('succeeded');
    await t.db.host.update({ where: { name: 'a' }, data: { name: 'a-renamed' } });
    try {
      const plan = await api('get', `/api/jobs/${job.id}/rollback-plan`);
      expect(plan.body.hosts).toEqual([{ host: 'a-renamed', jobIds: [job.id] }]);
      const rollback = await waitJob((await api('post', `/api/jobs/${job.id}/rollback`)).body.jobId);
      expect(rollback.status, JSON.stringify(rollback.hosts)).toBe('succeeded');
      expect(read(a, 'conf/app.ini')).toBe(before);
      expect(before).not.toBe('level=renamed\n');
      expect((await api('get', `/api/jobs/${job.id}/rollback-plan`)).body.hosts).toEqual([]);
    } finally {
      await t.db.host.update({ where: { name: 'a-renamed' }, data: { name: 'a' } });
    }
  });
});

describe('import guard', () => {
  it('refuses an import that would leave no active administrator, and changes nothing', async () => {
    const res = await api('post', '/api/import', { users: [{ name: 'ops', role: 'member' }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/no active administrator/);
    expect((await t.db.user.findUniqueOrThrow({ where: { name: 'ops' } })).role).toBe('admin');
  });
});

describe('secrets', () => {
  it('never writes SVN passwords, key passphrases or private keys to the log or into API answers', async () => {
    const logs = t.logLines.join('');
    expect(logs.length).toBeGreaterThan(1000);
    const keyLine = a.clientKey.split('\n')[2];
    for (const secret of [svn.password, a.passphrase, keyLine, token]) expect(logs).not.toContain(secret);
    const project = await api('get', '/api/projects/game');
    expect(JSON.stringify(project.body)).not.toContain(svn.password);
    expect(project.body.svnPasswordSet).toBe(true);
  });
});

describe('restart recovery', () => {
  it('marks jobs left running by a crash as interrupted', async () => {
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    const job = await t.db.job.create({ data: { kind: 'publish', status: 'running', projectId: project.id, userName: 'ops', hosts: { create: [{ hostName: 'a', status: 'running', phase: 'extracting', snapshotTaken: true }] } } });
    const restarted = new JobRunner(t.svc, { publish: async () => { throw new Error('unused'); }, rollback: async () => {}, processAction: async () => {} });
    expect(await restarted.markInterrupted()).toBe(1);
    const after = await t.db.job.findUniqueOrThrow({ where: { id: job.id }, include: { hosts: true } });
    expect(after.status).toBe('interrupted');
    expect(after.hosts[0]).toMatchObject({ status: 'failed', snapshotTaken: true });
  });
});
