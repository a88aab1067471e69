// The interface language through the real app: Accept-Language until the user picks one, the choice saved on the
// account and kept in a cookie for the sign-in page, and API errors in the user's language with a machine code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startTestApp } from '../helpers/app.ts';

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
