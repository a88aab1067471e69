// API token lifecycle: create with an expiry, list, revoke, last-used time; through the CLI (a real child process),
// the "My account" page and the user page, against the real app and a real SQLite file.
import { REPO_ROOT } from '../kit/server-process.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startTestApp, csrf, type Agent } from '../helpers/app.ts';
import { fixedT, localeHelpers } from '../../src/web/i18n.ts';

const execFileAsync = promisify(execFile);

let t: Awaited<ReturnType<typeof startTestApp>>;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.cleanup());

/** Runs `npm run ferry -- ...` as the operator would, against this test's data directory. */
async function ferry(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/ferry.ts', ...args], {
      cwd: REPO_ROOT, encoding: 'utf8',
      env: { ...process.env, FERRY_DATA_DIR: t.dir, FERRY_SECRET_KEY: t.svc.secretKey.toString('hex'), LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const api = (token: string) => supertest(t.app).get('/api/projects').set('Authorization', `Bearer ${token}`);

/** Creates a token on the My account page and returns it (the page shows it once) with its row id. */
async function createOnAccountPage(agent: Agent, fields: Record<string, string>): Promise<{ token: string; id: number; res: supertest.Response }> {
  const res = await agent.post('/account/tokens').type('form').send({ _csrf: await csrf(agent, '/account'), ...fields });
  const token = /fry_[A-Za-z0-9_-]{20,}/.exec(res.text)?.[0] ?? '';
  const row = token ? await t.db.apiToken.findFirst({ where: { prefix: token.slice(0, 12) } }) : null;
  return { token, id: row?.id ?? 0, res };
}

describe('token CLI', () => {
  it('creates a token with an expiry and a note, lists it, revokes it, and logs both', { timeout: 180_000 }, async () => {
    await t.addUser('ada', 'auditor');
    const created = await ferry('token', 'create', 'ada', '--expires', '30d', '--note', 'deploy bot');
    expect(created.code, created.stderr).toBe(0);
    // stdout is the token alone, so TOKEN=$(npm run -s ferry -- token create NAME) keeps working.
    const token = created.stdout.trim();
    expect(token).toMatch(/^fry_\S+$/);
    expect(created.stderr).toMatch(/expires \d{4}-\d\d-\d\d/);
    const row = await t.db.apiToken.findFirstOrThrow({ where: { user: { name: 'ada' } } });
    expect(row.name).toBe('deploy bot');
    const days = (row.expiresAt!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    expect((await api(token)).status).toBe(200);

    const listed = await ferry('token', 'list', 'ada');
    expect(listed.code, listed.stderr).toBe(0);
    const line = listed.stdout.split('\n').find((l) => l.startsWith(`${row.id} `));
    expect(line).toBeDefined();
    expect(line).toContain('ada');
    expect(line).toContain('deploy bot');
    expect(line).toContain(token.slice(0, 12));
    expect(line).not.toContain(token);
    expect(line).toMatch(/active\s*$/);
    expect(line).toContain(row.expiresAt!.toISOString().slice(0, 10));

    const revoked = await ferry('token', 'revoke', String(row.id));
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/revoked/i);
    expect((await api(token)).status).toBe(401);
    const after = await ferry('token', 'list');
    expect(after.stdout.split('\n').find((l) => l.startsWith(`${row.id} `))).toMatch(/revoked\s*$/);

    const ops = await t.db.opLog.findMany({ where: { action: { in: ['token.create', 'token.revoke'] }, target: 'ada' }, orderBy: { id: 'asc' } });
    expect(ops.map((o) => [o.action, o.userName, o.result])).toEqual([['token.create', 'cli', 'ok'], ['token.revoke', 'cli', 'ok']]);
    expect(ops[0].detail).toContain('deploy bot');
    expect(ops.map((o) => o.detail).join(' ')).not.toContain(token);
  });

  it('refuses a bad --expires value with a plain error and creates nothing', { timeout: 120_000 }, async () => {
    await t.addUser('bea', 'auditor');
    const res = await ferry('token', 'create', 'bea', '--expires', '90x');
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe('Error: --expires must be a number of hours, days or weeks, like 30d, 12h or 90d.');
    expect(await t.db.apiToken.count({ where: { user: { name: 'bea' } } })).toBe(0);
    const unknown = await ferry('token', 'revoke', '999999');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no API token with id 999999/i);
  });
});

describe('token checks on the API', () => {
  it('an expired token answers 401 at once', async () => {
    const agent = await t.login('cleo', 'member');
    const { token, id } = await createOnAccountPage(agent, { note: 'short', expires: '1h' });
    expect((await api(token)).status).toBe(200);
    await t.db.apiToken.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const res = await api(token);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatch(/expired/);
  });

  it('records the last use (at most once a minute) and shows it on the account page', async () => {
    const agent = await t.login('dora', 'member');
    const { token, id } = await createOnAccountPage(agent, { note: 'ci' });
    expect((await t.db.apiToken.findUniqueOrThrow({ where: { id } })).lastUsedAt).toBeNull();
    expect((await agent.get('/account')).text).toMatch(/never used/);
    expect((await api(token)).status).toBe(200);
    const first = (await t.db.apiToken.findUniqueOrThrow({ where: { id } })).lastUsedAt;
    expect(first).not.toBeNull();
    expect((await api(token)).status).toBe(200);
    expect((await t.db.apiToken.findUniqueOrThrow({ where: { id } })).lastUsedAt).toEqual(first);
    const page = await agent.get('/account');
    // Dates are written the way the page's language writes them (English here: no Accept-Language).
    expect(page.text).toContain(localeHelpers('en', fixedT('en')).fmtDate(first));
  });
});

describe('My account page', () => {
  it('is linked in the navigation, creates a token shown once with an optional expiry, and logs it', async () => {
    const agent = await t.login('emil', 'member');
    const home = await agent.get('/');
    expect(home.text).toContain('href="/account"');
    const { token, id, res } = await createOnAccountPage(agent, { note: 'laptop', expires: '90d' });
    expect(res.status).toBe(200);
    expect(token).toMatch(/^fry_/);
    const row = await t.db.apiToken.findUniqueOrThrow({ where: { id }, include: { user: true } });
    expect(row.user.name).toBe('emil');
    expect(Math.round((row.expiresAt!.getTime() - Date.now()) / 86_400_000)).toBe(90);
    const again = await agent.get('/account');
    expect(again.text).toContain('laptop');
    expect(again.text).not.toContain(token);
    const op = await t.db.opLog.findFirstOrThrow({ where: { action: 'token.create', userName: 'emil' } });
    expect(op.target).toBe('emil');
    expect(op.result).toBe('ok');
  });

  it('refuses to create a token for a request signed with a token, so a stolen token cannot outlive its revocation', async () => {
    const agent = await t.login('olga', 'member');
    const { token } = await createOnAccountPage(agent, { note: 'only one' });
    const res = await supertest(t.app).post('/account/tokens').set('Authorization', `Bearer ${token}`).type('form').send({ note: 'second' });
    expect(res.status).toBe(401);
    expect(res.text).toMatch(/only under \/api/);
    expect(await t.db.apiToken.count({ where: { user: { name: 'olga' } } })).toBe(1);
  });

  it('does not let an admin token drive the admin pages, so it cannot plant an account that outlives its revocation', async () => {
    const agent = await t.login('pia', 'admin');
    const { token } = await createOnAccountPage(agent, { note: 'admin bot' });
    const create = await supertest(t.app).post('/admin/users').set('Authorization', `Bearer ${token}`).type('form')
      .send({ name: 'backdoor', role: 'admin', password: 'long-enough-password' });
    expect(create.status).toBe(401);
    expect(create.headers['set-cookie']).toBeUndefined();
    expect(await t.db.user.count({ where: { name: 'backdoor' } })).toBe(0);
    const page = await supertest(t.app).get('/admin/users').set('Authorization', `Bearer ${token}`);
    expect(page.status).toBe(401);
    // The same token still works where it belongs.
    expect((await api(token)).status).toBe(200);
  });

  it('refuses a bad expiry in the form and creates nothing', async () => {
    const agent = await t.login('fred', 'member');
    const { res } = await createOnAccountPage(agent, { note: 'x', expires: 'soon' });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/like 30d, 12h or 90d/);
    expect(await t.db.apiToken.count({ where: { user: { name: 'fred' } } })).toBe(0);
  });

  it('revokes its own token, which answers 401 at once, and logs it', async () => {
    const agent = await t.login('gina', 'member');
    const { token, id } = await createOnAccountPage(agent, { note: 'to revoke' });
    expect((await api(token)).status).toBe(200);
    const res = await agent.post(`/account/tokens/${id}/revoke`).type('form').send({ _csrf: await csrf(agent, '/account') });
    expect(res.status).toBe(302);
    expect((await api(token)).status).toBe(401);
    expect((await api(token)).body.error).toMatch(/revoked/);
    expect((await agent.get('/account')).text).toMatch(/revoked/);
    const op = await t.db.opLog.findFirstOrThrow({ where: { action: 'token.revoke', userName: 'gina' } });
    expect(op.result).toBe('ok');
    // Using a revoked token is logged (the sign of a leaked one), once a minute per token rather than per request.
    const uses = await t.db.opLog.findMany({ where: { action: 'token.use', userName: 'gina' } });
    expect(uses.map((u) => [u.result, u.target])).toEqual([['denied', `token #${id} (${token.slice(0, 12)})`]]);
    expect(uses[0].detail).toMatch(/revoked token used for GET \/api\/projects/);
  });

  it("a member cannot revoke another user's token: 403, nothing changed, the refusal logged", async () => {
    const owner = await t.login('hugo', 'member');
    const { token, id } = await createOnAccountPage(owner, { note: 'mine' });
    const other = await t.login('ines', 'member');
    const res = await other.post(`/account/tokens/${id}/revoke`).type('form').send({ _csrf: await csrf(other, '/account') });
    expect(res.status).toBe(403);
    expect((await t.db.apiToken.findUniqueOrThrow({ where: { id } })).revokedAt).toBeNull();
    expect((await api(token)).status).toBe(200);
    const op = await t.db.opLog.findFirstOrThrow({ where: { action: 'token.revoke', userName: 'ines' } });
    expect(op.result).toBe('denied');
    // The admin route is closed to members too.
    const admin = await other.post(`/admin/users/${(await t.db.user.findUniqueOrThrow({ where: { name: 'hugo' } })).id}/tokens/${id}/revoke`)
      .type('form').send({ _csrf: await csrf(other, '/account') });
    expect(admin.status).toBe(403);
    expect((await api(token)).status).toBe(200);
  });
});

describe('tokens on the user page', () => {
  it('admins see a user\'s tokens with last use and revoke one; auditors see them without a Revoke button', async () => {
    const owner = await t.login('jack', 'member');
    const { token, id } = await createOnAccountPage(owner, { note: 'jack-ci', expires: '12h' });
    await api(token);
    const jack = await t.db.user.findUniqueOrThrow({ where: { name: 'jack' } });

    const auditor = await t.login('kate', 'auditor');
    const seen = await auditor.get(`/admin/users/${jack.id}`);
    expect(seen.status).toBe(200);
    expect(seen.text).toContain('jack-ci');
    expect(seen.text).toContain(token.slice(0, 12));
    expect(seen.text).not.toContain(`/tokens/${id}/revoke`);

    const admin = await t.login('lena', 'admin');
    const page = await admin.get(`/admin/users/${jack.id}`);
    expect(page.text).toContain('jack-ci');
    expect(page.text).toContain(`action="/admin/users/${jack.id}/tokens/${id}/revoke"`);
    const res = await admin.post(`/admin/users/${jack.id}/tokens/${id}/revoke`).type('form').send({ _csrf: await csrf(admin, `/admin/users/${jack.id}`) });
    expect(res.status).toBe(302);
    expect((await api(token)).status).toBe(401);
    const op = await t.db.opLog.findFirstOrThrow({ where: { action: 'token.revoke', userName: 'lena' } });
    expect(op.target).toBe('jack');
    expect(op.result).toBe('ok');
  });
});
