// Login, sessions, CSRF, throttling, roles and the operation log, through the real app and a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startTestApp, csrf, PASSWORD } from '../helpers/app.ts';
import { ensureFirstAdmin, createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;

beforeAll(async () => {
  t = await startTestApp({ throttle: { perUser: 3, perIp: 50, windowSec: 60, blockSec: 60 } });
  await t.db.project.create({ data: { name: 'game', svnUrl: 'svn://127.0.0.1/game', deployDir: '/srv/game' } });
  await t.db.project.create({ data: { name: 'other', svnUrl: 'svn://127.0.0.1/other', deployDir: '/srv/other' } });
});
afterAll(async () => t?.cleanup());

describe('login', () => {
  it('redirects anonymous page requests to the login page and refuses anonymous API calls', async () => {
    const page = await supertest(t.app).get('/admin/projects');
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe('/login?next=%2Fadmin%2Fprojects');
    const api = await supertest(t.app).get('/api/projects');
    expect(api.status).toBe(401);
    expect(api.body.error).toMatch(/sign in/i);
  });

  it('signs in with the right password, sets a httpOnly sameSite=lax cookie and logs the login', async () => {
    await t.addUser('carol', 'admin');
    const agent = supertest.agent(t.app);
    const token = await csrf(agent, '/login');
    const res = await agent.post('/login').type('form').send({ username: 'carol', password: PASSWORD, _csrf: token });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/ferry\.sid=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect((await agent.get('/')).status).toBe(200);
    const row = await t.db.opLog.findFirst({ where: { userName: 'carol', action: 'login' }, orderBy: { id: 'desc' } });
    expect(row?.result).toBe('ok');
  });

  it('refuses a wrong password with a plain message and logs the failure', async () => {
    await t.addUser('dave', 'member');
    const agent = supertest.agent(t.app);
    const token = await csrf(agent, '/login');
    const res = await agent.post('/login').type('form').send({ username: 'dave', password: 'nope-nope', _csrf: token });
    expect(res.status).toBe(401);
    expect(res.text).toContain('Wrong user name or password.');
    const row = await t.db.opLog.findFirst({ where: { userName: 'dave', action: 'login' }, orderBy: { id: 'desc' } });
    expect(row?.result).toBe('failed');
    expect(t.logLines.join('')).not.toContain('nope-nope');
  });

  it('locks a user out after repeated failures, even with the right password', async () => {
    await t.addUser('erin', 'member');
    const agent = supertest.agent(t.app);
    const token = await csrf(agent, '/login');
    for (let i = 0; i < 3; i++) {
      await agent.post('/login').type('form').send({ username: 'erin', password: 'wrong', _csrf: token });
    }
    const res = await agent.post('/login').type('form').send({ username: 'erin', password: PASSWORD, _csrf: token });
    expect(res.status).toBe(429);
    expect(res.text).toMatch(/Too many failed logins/);
    const denied = await t.db.opLog.count({ where: { userName: 'erin', action: 'login', result: 'denied' } });
    expect(denied).toBe(1);
  });

  it('never redirects off-site after login', async () => {
    await t.addUser('nick', 'auditor');
    for (const next of ['//evil.example', '/\\evil.example', 'https://evil.example', '/ok\u0000']) {
      const agent = supertest.agent(t.app);
      const token = await csrf(agent, '/login');
      const res = await agent.post('/login').type('form').send({ username: 'nick', password: PASSWORD, _csrf: token, next });
      expect(res.headers.location, next).toBe('/');
    }
    const agent = supertest.agent(t.app);
    const token = await csrf(agent, '/login');
    const res = await agent.post('/login').type('form').send({ username: 'nick', password: PASSWORD, _csrf: token, next: '/oplog?user=x' });
    expect(res.headers.location).toBe('/oplog?user=x');
  });

  it('logs out, ends the session and records it', async () => {
    const agent = await t.login('frank', 'auditor');
    const token = await csrf(agent, '/');
    const res = await agent.post('/logout').type('form').send({ _csrf: token });
    expect(res.status).toBe(302);
    expect((await agent.get('/')).status).toBe(302);
    expect(await t.db.opLog.count({ where: { userName: 'frank', action: 'logout' } })).toBe(1);
  });

  it('keeps sessions in the database so they survive a restart', async () => {
    const agent = await t.login('gina', 'auditor');
    expect(await t.db.session.count()).toBeGreaterThan(0);
    // A second app instance on the same database (a restarted server) accepts the same cookie.
    const { createApp } = await import('../../src/app.ts');
    const restarted = createApp({ config: t.config, db: t.db, logger: t.svc.logger });
    const cookie = (agent as unknown as { jar: { getCookie(n: string, o: object): { toValueString(): string } } }).jar
      .getCookie('ferry.sid', { domain: '127.0.0.1', path: '/', secure: false, script: false });
    const res = await supertest(restarted).get('/').set('Cookie', cookie.toValueString());
    expect(res.status).toBe(200);
    expect(res.text).toContain('gina');
  });
});

describe('CSRF', () => {
  it('rejects a form post without a valid token and changes nothing', async () => {
    const agent = await t.login('hank', 'admin');
    const before = await t.db.opLog.count({ where: { action: 'logout' } });
    const res = await agent.post('/logout').type('form').send({ _csrf: 'forged' });
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/form expired or did not come from Ferry/);
    expect(await t.db.opLog.count({ where: { action: 'logout' } })).toBe(before);
    expect((await agent.get('/')).status).toBe(200);
  });

  it('does not let a multipart body skip the check on any route but the import upload', async () => {
    const agent = await t.login('mona', 'admin');
    const res = await agent.post('/logout').field('x', '1');
    expect(res.status).toBe(403);
    expect((await agent.get('/')).status).toBe(200);
  });

  it('rejects a login post without a token', async () => {
    const res = await supertest(t.app).post('/login').type('form').send({ username: 'hank', password: PASSWORD });
    expect(res.status).toBe(403);
  });

  it('rejects a session-authenticated JSON call without the x-csrf-token header', async () => {
    const agent = await t.login('ivan', 'admin');
    const res = await agent.post('/api/import').send({ hosts: [] });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatch(/Reload the page/);
  });
});

describe('roles and permissions', () => {
  it('member: 403 on admin and audit pages, sees only granted projects, refusal logged', async () => {
    const agent = await t.login('mia', 'member', { game: ['publish'] });
    for (const path of ['/oplog', '/admin/projects', '/admin/import', '/api/logs']) {
      const res = await agent.get(path);
      expect(res.status, path).toBe(403);
    }
    const projects = await agent.get('/api/projects');
    expect(projects.body.map((p: { name: string }) => p.name)).toEqual(['game']);
    const other = await agent.get('/api/projects/other');
    expect(other.status).toBe(403);
    expect(other.body.error).toMatch(/no access to project "other"/);
    expect(await t.db.opLog.count({ where: { userName: 'mia', result: 'denied' } })).toBeGreaterThanOrEqual(5);
  });

  it('auditor: reads everything, changes nothing', async () => {
    const agent = await t.login('abe', 'auditor');
    expect((await agent.get('/oplog')).status).toBe(200);
    expect((await agent.get('/api/projects')).body).toHaveLength(2);
    const token = await csrf(agent, '/');
    const before = await t.db.project.count();
    const res = await agent.post('/api/import').set('x-csrf-token', token).send({ projects: [{ name: 'x', svnUrl: 'svn://127.0.0.1/x', deployDir: '/srv/x' }] });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatch(/Only administrators/);
    expect(await t.db.project.count()).toBe(before);
    const form = await agent.post('/admin/projects').type('form').send({ _csrf: token, name: 'y' });
    expect(form.status).toBe(403);
    expect(await t.db.project.count()).toBe(before);
  });

  it('API tokens authenticate as their user without CSRF; a bad token is refused', async () => {
    await t.addUser('bot', 'auditor');
    const token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, 'bot');
    const stored = await t.db.apiToken.findFirstOrThrow({ where: { user: { name: 'bot' } } });
    expect(stored.tokenHash).not.toContain(token);
    const ok = await supertest(t.app).get('/api/projects').set('Authorization', `Bearer ${token}`);
    expect(ok.status).toBe(200);
    const bad = await supertest(t.app).get('/api/projects').set('Authorization', 'Bearer fry_nope');
    expect(bad.status).toBe(401);
  });
});

describe('first-start admin', () => {
  it('is created once and never recreated or reset', async () => {
    const first = await ensureFirstAdmin(t.svc);
    expect(first.created).toBe(true);
    expect(first.password).toMatch(/^\S{20}$/);
    const admin = await t.db.user.findUniqueOrThrow({ where: { name: 'admin' } });
    expect(admin.role).toBe('admin');
    const second = await ensureFirstAdmin(t.svc, 'another-password');
    expect(second.created).toBe(false);
    expect((await t.db.user.findUniqueOrThrow({ where: { name: 'admin' } })).passwordHash).toBe(admin.passwordHash);
    await t.db.user.delete({ where: { name: 'admin' } });
    expect((await ensureFirstAdmin(t.svc)).created).toBe(false);
    expect(await t.db.user.findUnique({ where: { name: 'admin' } })).toBeNull();
  });
});

describe('operation log page', () => {
  it('filters, searches, sorts and pages in SQL and exports the filtered rows as CSV', async () => {
    const base = new Date('2026-01-10T12:00:00Z').getTime();
    await t.db.opLog.createMany({
      data: Array.from({ length: 30 }, (_, i) => ({
        at: new Date(base + i * 3600_000 * 24), userName: i % 2 ? 'zed' : 'yan', ip: '127.0.0.1',
        action: i % 3 ? 'publish' : 'rollback', project: 'game', target: `host-${i}`, result: 'ok', detail: `seed ${i}`,
      })),
    });
    const agent = await t.login('olga', 'auditor');
    const page = await agent.get('/oplog/data').query({ draw: 3, start: 0, length: 5, user: 'zed', action: 'publish', from: '2026-01-10', to: '2026-01-31', 'order[0][column]': 0, 'order[0][dir]': 'asc' });
    expect(page.status).toBe(200);
    expect(page.body.draw).toBe(3);
    const expected = Array.from({ length: 22 }, (_, i) => i).filter((i) => i % 2 && i % 3);
    expect(page.body.recordsFiltered).toBe(expected.length);
    expect(page.body.data.map((r: { target: string }) => r.target)).toEqual(expected.slice(0, 5).map((i) => `host-${i}`));
    const search = await agent.get('/oplog/data').query({ start: 0, length: 50, 'search[value]': 'host-29' });
    expect(search.body.data.map((r: { target: string }) => r.target)).toEqual(['host-29']);
    await t.db.opLog.create({ data: { userName: '=HYPERLINK("http://evil.example")', action: 'login', result: 'failed', ip: '127.0.0.1' } });
    const formula = await agent.get('/oplog/export.csv').query({ action: 'login', result: 'failed' });
    expect(formula.text).toContain(`"'=HYPERLINK(""http://evil.example"")"`);
    const csv = await agent.get('/oplog/export.csv').query({ user: 'yan', action: 'rollback' });
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('id,at,userName,ip,action,project,target,result,detail,jobId');
    expect(lines).toHaveLength(1 + Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 2 === 0 && i % 3 === 0).length);
  });
});
