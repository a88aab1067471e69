// The interface language through the real app: Accept-Language until the user picks one, the choice saved on the
// account and kept in a cookie for the sign-in page, and API errors in the user's language with a machine code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startTestApp } from '../helpers/app.ts';
import { englishPhrases } from '../../scripts/i18n.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.cleanup());

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

describe('interface language', () => {
  it('follows Accept-Language on the sign-in page, and the switch there sets a cookie', async () => {
    const en = await supertest(t.app).get('/login').set('Accept-Language', 'en-US,en;q=0.9');
    expect(en.text).toContain('<html lang="en">');
    const zh = await supertest(t.app).get('/login').set('Accept-Language', 'zh-CN,zh;q=0.9,en;q=0.8');
    expect(zh.text).toContain('<html lang="zh-CN">');
    // Any Chinese maps to zh-CN; an unsupported language first in the list is passed over.
    const tw = await supertest(t.app).get('/login').set('Accept-Language', 'fr;q=1, zh-TW;q=0.8');
    expect(tw.text).toContain('<html lang="zh-CN">');
    const picked = await supertest(t.app).get('/lang/zh-CN?next=/login');
    expect(picked.status).toBe(302);
    expect(picked.headers.location).toBe('/login');
    expect(String(picked.headers['set-cookie'])).toMatch(/ferry_lang=zh-CN;.*HttpOnly/i);
    const withCookie = await supertest(t.app).get('/login').set('Cookie', 'ferry_lang=zh-CN').set('Accept-Language', 'en');
    expect(withCookie.text).toContain('<html lang="zh-CN">');
    expect((await supertest(t.app).get('/lang/xx')).status).toBe(400);
    expect((await supertest(t.app).get('/lang/en?next=//evil.example')).headers.location).toBe('/');
  });

  it('saves the language a user picks on the account, over the browser\'s, and logs it', async () => {
    const agent = await t.login('lin', 'member');
    const first = await agent.get('/').set('Accept-Language', 'zh-CN');
    expect(first.text).toContain('<html lang="zh-CN">');
    expect(first.text).toContain('退出登录');
    const res = await agent.post('/lang').type('form').set('Accept-Language', 'zh-CN').send({ _csrf: csrfOf(first.text), locale: 'en', next: '/jobs' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/jobs');
    expect((await t.db.user.findUniqueOrThrow({ where: { name: 'lin' } })).locale).toBe('en');
    const after = await agent.get('/').set('Accept-Language', 'zh-CN');
    expect(after.text).toContain('<html lang="en">');
    expect(after.text).toContain('Sign out');
    const op = await t.db.opLog.findFirst({ where: { action: 'user.locale', userName: 'lin' } });
    expect(op?.detail).toBe('en');
    // Back to following the browser.
    await agent.post('/lang').type('form').send({ _csrf: csrfOf(after.text), locale: '' });
    expect((await t.db.user.findUniqueOrThrow({ where: { name: 'lin' } })).locale).toBe('');
    expect((await agent.get('/').set('Accept-Language', 'zh')).text).toContain('<html lang="zh-CN">');
    const bad = await agent.post('/lang').type('form').send({ _csrf: csrfOf(after.text), locale: 'klingon' });
    expect(bad.status).toBe(400);
  });

  it('answers API errors in the request\'s language with a machine-readable code', async () => {
    const agent = await t.login('mei', 'member');
    const zh = await agent.get('/api/no-such-thing').set('Accept-Language', 'zh-CN');
    expect(zh.status).toBe(404);
    expect(zh.body).toEqual({ error: '没有这个 API 接口。', code: 'not-found' });
    const en = await agent.get('/api/no-such-thing').set('Accept-Language', 'en');
    expect(en.body).toEqual({ error: 'No such API endpoint.', code: 'not-found' });
  });
});

describe('dashboard, account, sign-in and operation log in Chinese', () => {
  it('shows the dashboard, the account page and a revocation flash in Chinese', async () => {
    const agent = await t.login('zhou', 'member');
    const home = await agent.get('/').set('Accept-Language', 'zh-CN');
    expect(home.text).toContain('<h1 class="h3 mb-3">项目</h1>');
    expect(home.text).toContain('您还没有可用的项目。');
    const account = await agent.get('/account').set('Accept-Language', 'zh-CN');
    expect(account.text).toContain('我的账户');
    expect(account.text).toContain('没有 API 令牌。');
    const bad = await agent.post('/account/tokens').type('form').set('Accept-Language', 'zh-CN').send({ _csrf: csrfOf(account.text), note: 'ci', expires: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('必须是小时、天或周数，例如 30d、12h 或 90d');
    const created = await agent.post('/account/tokens').type('form').set('Accept-Language', 'zh-CN').send({ _csrf: csrfOf(account.text), note: 'ci', expires: '' });
    expect(created.text).toContain('请立即复制：它只显示这一次。');
    const id = /data-token-id="(\d+)"/.exec(created.text)?.[1];
    const revoked = await agent.post(`/account/tokens/${id}/revoke`).type('form').set('Accept-Language', 'zh-CN').send({ _csrf: csrfOf(created.text) });
    expect(revoked.status).toBe(302);
    const after = await agent.get('/account').set('Accept-Language', 'zh-CN');
    expect(after.text).toContain(`令牌 #${id}“ci”已吊销，不能再使用。`);
    expect(after.text).toContain('已吊销');
    // In English the same flash reads as before.
    await agent.post(`/account/tokens/${id}/revoke`).type('form').send({ _csrf: csrfOf(after.text) });
    expect((await agent.get('/account')).text).toContain(`Token #${id} was already revoked.`);
  });

  it('answers a wrong password and an auditor\'s operation log in Chinese', async () => {
    await t.addUser('qian', 'auditor');
    const anon = supertest.agent(t.app);
    const login = await anon.get('/login').set('Accept-Language', 'zh-CN');
    expect(login.text).toContain('登录 Ferry');
    const wrong = await anon.post('/login').type('form').set('Accept-Language', 'zh-CN').send({ username: 'qian', password: 'nope', _csrf: csrfOf(login.text) });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('用户名或密码错误。');
    const agent = await t.login('qian', 'auditor');
    const oplog = await agent.get('/oplog').set('Accept-Language', 'zh-CN');
    expect(oplog.text).toContain('导出 CSV');
    expect(oplog.text).toContain('<option value="denied" >已拒绝</option>');
    // A member is refused the page, in Chinese.
    const member = await t.login('sun', 'member');
    const refused = await member.get('/oplog').set('Accept-Language', 'zh-CN');
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('无权访问');
  });

  it('shows every configuration, release and log page in Chinese: no English phrase that has a translation', async () => {
    const cred = await t.db.credential.create({ data: { name: 'deploy-key', username: 'deploy' } });
    const host = await t.db.host.create({ data: { name: 'gs-01', address: '127.0.0.1', credentialId: cred.id } });
    const project = await t.db.project.create({ data: { name: 'game', svnUrl: 'svn://127.0.0.1/game', deployDir: '/srv/game' } });
    await t.db.hostGroup.create({ data: { name: 'zone1', projectId: project.id, hosts: { connect: [{ id: host.id }] } } });
    const agent = await t.login('zhao', 'admin');
    const user = await t.db.user.findUniqueOrThrow({ where: { name: 'zhao' } });
    const phrases = englishPhrases();
    const pages = ['/', '/jobs', '/oplog', '/account', '/admin/projects', '/admin/projects/new', `/admin/projects/${project.id}`,
      '/admin/hosts', '/admin/hosts/new', `/admin/hosts/${host.id}`, '/admin/credentials', '/admin/credentials/new', `/admin/credentials/${cred.id}`,
      '/admin/users', '/admin/users/new', `/admin/users/${user.id}`, '/admin/import', '/projects/game/publish', '/projects/game/processes', '/no-such-page'];
    const found: string[] = [];
    for (const url of pages) {
      const res = await agent.get(url).set('Accept-Language', 'zh-CN');
      expect([200, 404], url).toContain(res.status);
      // What a reader sees: the text between tags and the words in titles, placeholders, labels and prompts.
      const html = res.text.replace(/<script[\s\S]*?<\/script>/g, '');
      const attributes = [...html.matchAll(/\b(?:title|placeholder|aria-label|data-confirm)="([^"]*)"/g)].map((m) => m[1]);
      const text = [html.replace(/<[^>]+>/g, ' '), ...attributes].join('\n').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
      for (const phrase of phrases) if (text.includes(phrase)) found.push(`${url}: ${phrase}`);
    }
    expect(found).toEqual([]);
  });
});
