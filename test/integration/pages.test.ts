// Workflow pages (publish, processes, job detail, history) through the real app and SQLite, with a fake engine
// that only reports host events, so no sshd or svnserve is needed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, PublishRequest } from '../../src/deploy/runner-types.ts';
import { lastPublishedRevisions } from '../../src/services/history.ts';
import { csrf, startTestApp, type Agent } from '../helpers/app.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;
let admin: Agent;
/** Publishes whose files include "slow" wait here, so a test can look at a running job. */
let gate: { promise: Promise<void>; open: () => void } | null = null;

const fakeEngine: Engine = {
  async publish(req: PublishRequest, emit) {
    for (const h of req.hosts) emit({ type: 'host', host: h.name, status: 'running', phase: 'uploading' });
    if (req.files.includes('slow') && gate) await gate.promise;
    for (const h of req.hosts) {
      emit({ type: 'output', host: h.name, text: `unpacked on ${h.name}\n` });
      if (req.note === 'fail db1' && h.name === 'db1') emit({ type: 'host', host: h.name, status: 'failed', phase: 'uploading', error: 'connection lost' });
      else emit({ type: 'host', host: h.name, status: 'succeeded', phase: 'done', snapshotTaken: true });
    }
    return { revision: req.revision ?? 42, fileCount: req.files.length, bytes: 1 };
  },
  async rollback(req, emit) {
    for (const h of req.hosts) emit({ type: 'host', host: h.name, status: 'succeeded', phase: 'done' });
  },
  async processAction(req, emit) {
    for (const h of req.hosts) emit({ type: 'host', host: h.name, status: 'succeeded', phase: 'done', exitCode: 0 });
  },
};

async function api(agent: Agent, method: 'get' | 'post', url: string, body?: object) {
  const token = await csrf(agent, '/');
  const req = agent[method](url).set('x-csrf-token', token).set('Accept', 'application/json');
  return body ? req.send(body) : req;
}

async function publish(agent: Agent, project: string, body: object): Promise<number> {
  const res = await api(agent, 'post', `/api/projects/${project}/publish`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await t.jobs!.idle();
  return res.body.jobId as number;
}

/** DataTables server-side request, as the history page sends it. */
function historyQuery(params: Record<string, string | number>) {
  const q = new URLSearchParams({ draw: '1', start: '0', length: '10', 'order[0][column]': '0', 'order[0][dir]': 'desc', 'search[value]': '' });
  for (const [k, v] of Object.entries(params)) q.set(k, String(v));
  return `/jobs/data?${q}`;
}

beforeAll(async () => {
  t = await startTestApp({ engine: () => fakeEngine });
  const cred = await t.db.credential.create({ data: { name: 'deploy', username: 'deploy' } });
  for (const name of ['web1', 'web2', 'db1', 'other1']) {
    await t.db.host.create({ data: { name, address: `${name}.example`, credentialId: cred.id } });
  }
  const connect = (...names: string[]) => ({ connect: names.map((name) => ({ name })) });
  await t.db.project.create({
    data: {
      name: 'alpha', svnUrl: 'svn://127.0.0.1/alpha', deployDir: '/srv/alpha',
      groups: { create: [{ name: 'web', hosts: connect('web1', 'web2') }, { name: 'db', hosts: connect('db1') }] },
    },
  });
  await t.db.process.create({
    data: {
      name: 'app', startCmd: 'bin/app start', stopCmd: 'bin/app stop', statusCmd: 'bin/app status',
      project: { connect: { name: 'alpha' } }, groups: { connect: [{ projectId_name: { projectId: (await t.db.project.findUniqueOrThrow({ where: { name: 'alpha' } })).id, name: 'web' } }] },
    },
  });
  await t.db.project.create({ data: { name: 'beta', svnUrl: 'svn://127.0.0.1/beta', deployDir: '/srv/beta', groups: { create: [{ name: 'all', hosts: connect('other1') }] } } });
  await t.db.project.create({ data: { name: 'gamma', svnUrl: 'svn://127.0.0.1/gamma', deployDir: '/srv/gamma' } });
  admin = await t.login('root', 'admin');
});
afterAll(async () => {
  gate?.open();
  await t?.jobs?.idle();
  await t?.cleanup();
});

describe('publish page', () => {
  it('shows groups, hosts and the revision each host last received, minus rolled-back publishes', async () => {
    await publish(admin, 'alpha', { files: ['conf'], revision: 7, groups: ['web'] });
    const second = await publish(admin, 'alpha', { files: ['conf'], revision: 9, hosts: ['web1'] });

    const res = await admin.get('/projects/alpha/publish');
    expect(res.status).toBe(200);
    expect(res.text).toContain('id="file-tree"');
    expect(res.text).toContain('data-group="web"');
    expect(res.text).toContain('/vendor/jstree/jstree.min.js');
    const data = JSON.parse(/<script type="application\/json" id="publish-data">([^<]*)<\/script>/.exec(res.text)![1]);
    const byName = Object.fromEntries(data.hosts.map((h: { name: string }) => [h.name, h]));
    expect(byName.web1).toMatchObject({ lastRevision: 9, lastJobId: second, groups: ['web'] });
    expect(byName.web2).toMatchObject({ lastRevision: 7 });
    expect(byName.db1).toMatchObject({ lastRevision: null, lastJobId: null });

    const rollback = await api(admin, 'post', `/api/jobs/${second}/rollback`);
    expect(rollback.status, JSON.stringify(rollback.body)).toBe(201);
    await t.jobs!.idle();
    const alpha = await t.db.project.findUniqueOrThrow({ where: { name: 'alpha' } });
    const web1 = await t.db.host.findUniqueOrThrow({ where: { name: 'web1' } });
    expect((await lastPublishedRevisions(t.svc, alpha.id)).get(web1.id)).toMatchObject({ revision: 7 });
  });

  it('escapes project data inside the page JSON so it cannot close the script element', async () => {
    await t.db.hostGroup.create({ data: { name: '</script><b>x', project: { connect: { name: 'gamma' } } } });
    const res = await admin.get('/projects/gamma/publish');
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('</script><b>x');
    expect(res.text).toContain('\\u003c/script>\\u003cb>x');
  });

  it('refuses a member without the publish grant with a 403 page, and the dashboard offers no Publish button', async () => {
    const ops = await t.login('ops', 'member', { alpha: ['process'] });
    const page = await ops.get('/projects/alpha/publish');
    expect(page.status).toBe(403);
    expect(page.text).toContain('You do not have permission to publish to project &#34;alpha&#34;.');
    const dashboard = await ops.get('/');
    expect(dashboard.text).not.toContain('/projects/alpha/publish');
    expect(dashboard.text).toContain('/projects/alpha/processes');
    const denied = await t.db.opLog.findFirst({ where: { userName: 'ops', result: 'denied' }, orderBy: { id: 'desc' } });
    expect(denied).toMatchObject({ project: 'alpha', detail: 'missing "publish" permission' });

    const stranger = await t.login('stranger', 'member', { beta: ['publish'] });
    expect((await stranger.get('/projects/alpha/publish')).status).toBe(403);
    expect((await admin.get('/projects/nope/publish')).status).toBe(404);
  });

  it('renders for a member with the publish grant', async () => {
    const pub = await t.login('pub', 'member', { alpha: ['publish', 'rollback'] });
    const res = await pub.get('/projects/alpha/publish');
    expect(res.status).toBe(200);
    expect(res.text).toContain('id="publish-review"');
    expect(res.text).not.toContain('/projects/alpha/processes'); // no process grant, no link
  });
});

describe('processes page', () => {
  it('lists each process by group and host with action buttons for a member with the process grant', async () => {
    const ops = await t.login('ops', 'member', { alpha: ['process'] });
    const res = await ops.get('/projects/alpha/processes');
    expect(res.status).toBe(200);
    expect(res.text).toContain('id="refresh-status"');
    expect(res.text).toMatch(/<tr class="process-host-row" data-process="app" data-group="web" data-host="web1">/);
    expect(res.text).toMatch(/class="process-status" data-process="app" data-host="web2"/);
    expect(res.text).toMatch(/data-action="restart" data-process="app" data-group="web"/);
    expect(res.text).toMatch(/data-action="stop" data-process="app" data-host="web1"/);
    expect(res.text).not.toContain('data-host="db1"'); // db does not run the process
  });

  it('refuses a member without the process grant', async () => {
    const pub = await t.login('pub', 'member', { alpha: ['publish', 'rollback'] });
    const res = await pub.get('/projects/alpha/processes');
    expect(res.status).toBe(403);
    expect(res.text).toContain('You do not have permission to control processes of project');
  });
});

describe('job page', () => {
  it('shows every host with its status and output, and the rollback button only to users with rollback', async () => {
    const jobId = await publish(admin, 'alpha', { files: ['bin', 'conf/app.ini'], revision: 11, groups: ['web'], note: 'ticket <42>' });
    const res = await admin.get(`/jobs/${jobId}`);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/id="job-status" class="badge fs-6 job-status text-bg-success" data-status="succeeded">succeeded</);
    for (const host of ['web1', 'web2']) {
      expect(res.text).toContain(`<tr data-host="${host}" data-status="succeeded">`);
      expect(res.text).toContain(`unpacked on ${host}`);
    }
    expect(res.text).toContain('class="host-status"');
    expect(res.text).toContain('ticket &lt;42&gt;');
    expect(res.text).toContain('conf/app.ini');
    expect(res.text).toContain('r11');
    expect(res.text).toContain('id="rollback-button"');
    expect(res.text).toContain('<script type="module" src="/static/js/job.js">');
    // Browsers run modules only with a JavaScript type; revalidated so a page module never meets a stale shared one.
    const shared = await admin.get('/static/js/lib/ui.js');
    expect(shared.status).toBe(200);
    expect(shared.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(shared.headers['cache-control']).toBe('public, max-age=0');

    const pubOnly = await t.login('pubonly', 'member', { alpha: ['publish'] });
    const noRollback = await pubOnly.get(`/jobs/${jobId}`);
    expect(noRollback.status).toBe(200);
    expect(noRollback.text).not.toContain('rollback-button');
    expect(noRollback.text).toContain('id="publish-link"');

    const ops = await t.login('ops', 'member', { alpha: ['process'] });
    const opsView = await ops.get(`/jobs/${jobId}`);
    expect(opsView.status).toBe(200);
    expect(opsView.text).not.toContain('rollback-button');
    expect(opsView.text).not.toContain('publish-link');

    expect(res.text).not.toContain('retry-button');
    const partial = await publish(admin, 'alpha', { files: ['bin'], groups: ['web', 'db'], note: 'fail db1' });
    expect((await admin.get(`/jobs/${partial}`)).text).toContain('id="retry-button"');
    expect((await ops.get(`/jobs/${partial}`)).text).not.toContain('retry-button');

    const stranger = await t.login('stranger', 'member', { beta: ['publish'] });
    // A job of a project the member cannot see looks exactly like one that does not exist.
    expect((await stranger.get(`/jobs/${jobId}`)).status).toBe(404);
    expect((await admin.get('/jobs/999999')).status).toBe(404);
    expect((await admin.get('/jobs/abc')).status).toBe(404);
  });

  it('speaks Chinese when the browser asks for it: headings, host rows, recorded host errors and API errors', async () => {
    const jobId = await publish(admin, 'alpha', { files: ['bin'], groups: ['web', 'db'], note: 'fail db1' });
    // A recurring engine message, stored in English, is shown translated with its values.
    await t.db.jobHost.updateMany({ where: { jobId, hostName: 'web2' }, data: { error: 'skipped: an earlier wave failed' } });
    const zh = await admin.get(`/jobs/${jobId}`).set('Accept-Language', 'zh-CN');
    expect(zh.status).toBe(200);
    expect(zh.text).toContain(`<title>任务 #${jobId}`);
    expect(zh.text).toContain(`任务 #${jobId} <small`);
    expect(zh.text).toContain('<th>主机</th><th>状态</th><th>阶段</th>');
    expect(zh.text).toContain('已跳过：之前的批次失败');
    // Text that matches no message stays as recorded.
    expect(zh.text).toContain('connection lost');
    expect(zh.text).toContain('重试失败的主机');
    const en = await admin.get(`/jobs/${jobId}`);
    expect(en.text).toContain('skipped: an earlier wave failed');
    expect(en.text).toContain('<th>Host</th><th>Status</th><th>Phase</th>');

    const history = await admin.get('/jobs').set('Accept-Language', 'zh-CN');
    expect(history.text).toContain('<option value="">全部项目</option>');
    const processes = await admin.get('/projects/alpha/processes').set('Accept-Language', 'zh-CN');
    expect(processes.text).toContain('alpha 的进程');

    const token = await csrf(admin, '/');
    const missing = await admin.post('/api/jobs/999999/retry').set('x-csrf-token', token).set('Accept', 'application/json').set('Accept-Language', 'zh-CN').send({});
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).toContain('任务 #999999 不存在。');
    const english = await api(admin, 'post', '/api/jobs/999999/retry', {});
    expect(JSON.stringify(english.body)).toContain('Job #999999 does not exist.');
  });

  it('marks a running job live and keeps its rollback button hidden until it ends', async () => {
    let open!: () => void;
    gate = { promise: new Promise<void>((resolve) => { open = resolve; }), open: () => open() };
    const res = await api(admin, 'post', '/api/projects/alpha/publish', { files: ['slow'], hosts: ['web2'] });
    expect(res.status).toBe(201);
    const page = await admin.get(`/jobs/${res.body.jobId}`);
    expect(page.text).toContain('data-active="1"');
    expect(page.text).toMatch(/id="job-status"[^>]*>running</);
    expect(page.text).toMatch(/id="rollback-button" class="[^"]*d-none/);
    expect(page.text).toContain('<tr data-host="web2"');
    gate.open();
    await t.jobs!.idle();
    const done = await admin.get(`/jobs/${res.body.jobId}`);
    expect(done.text).not.toContain('data-active="1"');
    expect(done.text).toContain('Finished: succeeded on all 1 host(s).');
  });
});

describe('history', () => {
  beforeAll(async () => {
    const gamma = await t.db.project.findUniqueOrThrow({ where: { name: 'gamma' } });
    const kinds = ['publish', 'process', 'rollback'];
    for (let i = 0; i < 25; i++) {
      await t.db.job.create({
        data: {
          projectId: gamma.id, kind: kinds[i % 3], status: i % 5 === 0 ? 'failed' : 'succeeded', userName: i % 2 ? 'carol' : 'dave',
          revision: 100 + i, files: JSON.stringify(['a', 'b'].slice(0, (i % 2) + 1)),
          startedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, 0)), finishedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, i)),
          hosts: { create: Array.from({ length: i % 4 }, (_, n) => ({ hostName: `g${n}` })) },
        },
      });
    }
  });

  it('pages, sorts and filters in SQL and reports the DataTables counts', async () => {
    const total = await t.db.job.count();
    const first = await admin.get(historyQuery({ draw: 3, 'project': 'gamma' }));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ draw: 3, recordsTotal: total, recordsFiltered: 25 });
    expect(first.body.data).toHaveLength(10);
    const ids = first.body.data.map((r: { id: number }) => r.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(first.body.data[0]).toMatchObject({ project: 'gamma', revision: 124, files: 1, hosts: 0, durationMs: 24_000 });

    const third = await admin.get(historyQuery({ project: 'gamma', start: 20 }));
    expect(third.body.data).toHaveLength(5);
    expect(third.body.data.some((r: { id: number }) => ids.includes(r.id))).toBe(false);

    const carolFailed = await admin.get(historyQuery({ project: 'gamma', 'search[value]': 'carol', status: 'succeeded', length: 100 }));
    expect(carolFailed.body.recordsFiltered).toBe(10); // 12 odd i, minus i=5 and 15 (failed)
    expect(carolFailed.body.data).toHaveLength(10);
    expect(carolFailed.body.data.filter((r: { userName: string; status: string }) => r.userName !== 'carol' || r.status !== 'succeeded')).toEqual([]);

    const rollbacks = await admin.get(historyQuery({ project: 'gamma', kind: 'rollback', length: 100 }));
    expect(rollbacks.body.recordsFiltered).toBe(8);
    expect(rollbacks.body.data[0].detail).toBe('');

    const byHosts = await admin.get(historyQuery({ project: 'gamma', 'order[0][column]': 7, 'order[0][dir]': 'asc', length: 100 }));
    const counts = byHosts.body.data.map((r: { hosts: number }) => r.hosts);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));

    const byRevision = await admin.get(historyQuery({ 'search[value]': 'r117' }));
    expect(byRevision.body.data.map((r: { revision: number }) => r.revision)).toEqual([117]);
  });

  it('hides other projects from members, whatever they filter on', async () => {
    const viewer = await t.login('gammaviewer', 'member', { gamma: ['publish'] });
    const all = await viewer.get(historyQuery({ length: 100 }));
    expect(all.body).toMatchObject({ recordsTotal: 25, recordsFiltered: 25 });
    expect(all.body.data).toHaveLength(25);
    expect(all.body.data.filter((r: { project: string }) => r.project !== 'gamma')).toEqual([]);
    const alpha = await viewer.get(historyQuery({ project: 'alpha' }));
    expect(alpha.body).toMatchObject({ recordsTotal: 25, recordsFiltered: 0, data: [] });

    const page = await viewer.get('/jobs?project=gamma');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<option selected>gamma</option>');
    expect(page.text).not.toContain('<option>alpha</option>');
    expect(page.text).toContain('id="history-table"');

    const auditor = await t.login('aud', 'auditor');
    expect((await auditor.get(historyQuery({}))).body.recordsTotal).toBe(await t.db.job.count());
  });
});
