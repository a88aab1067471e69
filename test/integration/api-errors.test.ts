// Bad ids, paging values, search text and import documents get a plain 4xx, never a 500; jobs of projects the caller
// cannot see look exactly like jobs that do not exist. Real app, real SQLite; no engine work is started.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startTestApp, type Agent, csrf } from '../helpers/app.ts';
import { JobRunner } from '../../src/services/jobs/index.ts';
import type { Engine } from '../../src/deploy/runner-types.ts';
import { PAGING } from '../../src/config.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;
let admin: Agent;
let member: Agent;
let secretJobId: number;
let openJobId: number;

// The engine is never reached by these tests: every request is refused before a job starts.
const noEngine = new Proxy({}, { get: () => () => Promise.reject(new Error('engine not used in this test')) }) as Engine;

beforeAll(async () => {
  t = await startTestApp({ jobs: undefined, engine: () => noEngine });
  const secret = await t.db.project.create({ data: { name: 'secret-project', svnUrl: 'svn://127.0.0.1/x', deployDir: '/srv/secret' } });
  const open = await t.db.project.create({ data: { name: 'open', svnUrl: 'svn://127.0.0.1/y', deployDir: '/srv/open' } });
  secretJobId = (await t.db.job.create({ data: { kind: 'publish', status: 'succeeded', projectId: secret.id, userName: 'x' } })).id;
  openJobId = (await t.db.job.create({ data: { kind: 'publish', status: 'succeeded', projectId: open.id, userName: 'x' } })).id;
  admin = await t.login('root', 'admin');
  member = await t.login('mia', 'member', { open: ['publish', 'rollback', 'process'] });
  expect(t.jobs).toBeInstanceOf(JobRunner);
});

afterAll(async () => {
  await t?.cleanup();
});

const HUGE = '99999999999999999999';

describe('job ids that are not safe whole numbers', () => {
  it.each([HUGE, '1e3', '-1', '0', '1.5', 'abc', '9007199254740993'])('GET /api/jobs/%s answers 404 with a plain message', async (id) => {
    const res = await admin.get(`/api/jobs/${id}`);
    expect(res.status).toBe(404);
    expect(res.body.error).toMatch(/does not exist/);
  });

  it.each(['', '/events', '/rollback-plan'])('GET /api/jobs/<huge>%s answers 404', async (suffix) => {
    const res = await admin.get(`/api/jobs/${HUGE}${suffix}`);
    expect(res.status).toBe(404);
  });

  it('POST rollback, retry, continue and stop-waves of a huge id answer 404', async () => {
    const token = await csrf(admin);
    for (const action of ['rollback', 'retry', 'continue', 'stop-waves']) {
      const res = await admin.post(`/api/jobs/${HUGE}/${action}`).set('x-csrf-token', token).send({});
      expect(res.status, action).toBe(404);
    }
  });

  it('the job page of a huge id answers 404, not 500', async () => {
    const res = await admin.get(`/jobs/${HUGE}`);
    expect(res.status).toBe(404);
    expect(res.text).toMatch(/does not exist/);
  });
});

describe('jobs of projects the caller cannot see', () => {
  it('answer 404 exactly like an unknown job, without naming the project', async () => {
    const unknown = await member.get('/api/jobs/999999');
    const hidden = await member.get(`/api/jobs/${secretJobId}`);
    expect(hidden.status).toBe(404);
    expect(hidden.text).not.toContain('secret-project');
    expect(hidden.body.error).toBe(unknown.body.error.replace('999999', String(secretJobId)));
    expect((await member.get(`/api/jobs/${openJobId}`)).status).toBe(200);
  });

  it.each(['/events', '/rollback-plan'])('GET /api/jobs/<hidden>%s answers 404', async (suffix) => {
    const res = await member.get(`/api/jobs/${secretJobId}${suffix}`);
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('secret-project');
  });

  it('rollback, retry, continue and stop-waves of a hidden job answer 404', async () => {
    const token = await csrf(member);
    for (const action of ['rollback', 'retry', 'continue', 'stop-waves']) {
      const res = await member.post(`/api/jobs/${secretJobId}/${action}`).set('x-csrf-token', token).send({});
      expect(res.status, action).toBe(404);
      expect(res.text).not.toContain('secret-project');
    }
  });

  it('the job page of a hidden job answers 404', async () => {
    const res = await member.get(`/jobs/${secretJobId}`);
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('secret-project');
  });
});

describe('DataTables paging values', () => {
  const cases = [
    { start: '1e300', length: '10' }, { start: '-5', length: '10' }, { start: 'NaN', length: 'NaN' },
    { start: '0', length: '1e300' }, { start: '0', length: '-1' }, { start: HUGE, length: HUGE }, { start: '1.5', length: '2.5' },
  ];
  it.each(cases)('/jobs/data with start=$start length=$length answers 200 with a clamped page', async (q) => {
    const res = await admin.get('/jobs/data').query({ draw: '3', ...q });
    expect(res.status, res.text).toBe(200);
    expect(res.body.draw).toBe(3);
    expect(res.body.data.length).toBeLessThanOrEqual(500);
  });

  it.each(cases)('/oplog/data with start=$start length=$length answers 200 with a clamped page', async (q) => {
    const res = await admin.get('/oplog/data').query({ draw: '1e300', ...q });
    expect(res.status, res.text).toBe(200);
    expect(res.body.draw).toBe(0);
    expect(res.body.data.length).toBeLessThanOrEqual(500);
  });

  it('a page far past the end is empty, and the first page still has the rows', async () => {
    const far = await admin.get('/jobs/data').query({ start: '1e300', length: '10' });
    expect(far.body.data).toEqual([]);
    const first = await admin.get('/jobs/data').query({ start: '0', length: '10' });
    expect(first.body.data.map((r: { id: number }) => r.id).sort()).toEqual([secretJobId, openJobId].sort());
  });

  it('GET /api/logs with a huge offset or a huge jobId answers 200', async () => {
    for (const q of [{ offset: '1e300' }, { offset: HUGE, limit: HUGE }, { jobId: HUGE }, { jobId: '1e300' }]) {
      const res = await admin.get('/api/logs').query(q);
      expect(res.status, `${JSON.stringify(q)}: ${res.text}`).toBe(200);
      // The answer reports the page it really used.
      expect(res.body.offset).toBeLessThanOrEqual(PAGING.maxOffset);
      expect(res.body.limit).toBeLessThanOrEqual(PAGING.maxApiLength);
    }
  });
});

describe('control characters in a search', () => {
  it.each(['a\u0000b', 'abc\u0000def', '\u0000', 'x\u0007\u001by', '"\u0000"'])('search %j answers 200 or 400, never 500', async (term) => {
    for (const url of ['/jobs/data', '/oplog/data']) {
      const res = await admin.get(url).query({ 'search[value]': term, start: '0', length: '10' });
      expect([200, 400], `${url}: ${res.status} ${res.text}`).toContain(res.status);
    }
    const api = await admin.get('/api/logs').query({ search: term });
    expect([200, 400], `/api/logs: ${api.text}`).toContain(api.status);
  });
});

describe('YAML alias bombs', () => {
  const bomb = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
    'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
    'users: [*i]',
  ].join('\n');

  it('POST /api/import with a billion-laughs document answers 400 quickly and writes nothing', async () => {
    const token = await csrf(admin);
    const started = Date.now();
    const res = await admin.post('/api/import').set('x-csrf-token', token).send({ format: 'yaml', content: bomb });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toMatch(/alias/i);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await t.db.user.count()).toBe(2);
  });

  it('a deeply nested YAML document answers 400', async () => {
    const token = await csrf(admin);
    const deep = `users: ${'['.repeat(100)}${']'.repeat(100)}`;
    const res = await admin.post('/api/import').set('x-csrf-token', token).send({ format: 'yaml', content: deep });
    expect(res.status, res.text.slice(0, 300)).toBe(400);
    expect(res.body.error).toMatch(/nested more than \d+ levels/);
  });

  it('a deeply nested JSON import answers 400 naming the nesting', async () => {
    const token = await csrf(admin);
    let users: unknown = 'x';
    for (let i = 0; i < 200; i++) users = [users];
    const res = await admin.post('/api/import').set('x-csrf-token', token).send({ users });
    expect(res.status, res.text.slice(0, 300)).toBe(400);
    // The body parser's depth check (64) or the import's own (32), whichever comes first, names the nesting.
    expect(res.body.error).toMatch(/nest(ed|s arrays or objects) (more|deeper) than \d+ levels/);
  });

  it('the import page refuses a billion-laughs upload with a message, not a 500', async () => {
    const page = await admin.get('/admin/import');
    const token = page.text.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? page.text.match(/name="csrf-token" content="([^"]+)"/)![1];
    const res = await admin.post('/admin/import').field('_csrf', token).field('format', 'yaml').field('text', bomb);
    expect(res.status, res.text.slice(0, 300)).toBe(400);
    expect(res.text).toMatch(/alias/i);
  });
});

describe('a Bearer-less API client', () => {
  it('still gets 401 for a huge id (ids are checked after sign-in)', async () => {
    const res = await supertest(t.app).get(`/api/jobs/${HUGE}`);
    expect(res.status).toBe(401);
  });
});
