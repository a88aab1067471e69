// Configuration pages through the real app: CRUD, validation re-rendering, secrets never shown, roles, the operation log,
// and the "Test SVN" / "Test connection" buttons against a real svnserve and sshd.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { startTestApp, csrf, type Agent } from '../helpers/app.ts';
import { startSvnServer, type SvnServer } from '../kit/svnserve.ts';
import { startSshd, type SshdHandle } from '../kit/sshd.ts';
import { encryptSecret } from '../../src/lib/crypto.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;
let admin: Agent;
let token: string;

const SVN_SECRET = 'Sup3r-secret-svn-pässword';

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login('root', 'admin');
  token = await csrf(admin, '/admin/projects');
});
afterAll(async () => t?.cleanup());

const form = (agent: Agent, path: string, body: Record<string, unknown>, csrfToken = token) =>
  agent.post(path).type('form').send({ _csrf: csrfToken, ...body });

const projectForm = (overrides: Record<string, unknown> = {}) => ({
  name: 'shop', description: 'Web shop', svnUrl: 'svn://127.0.0.1/shop/trunk', svnUsername: 'deploy', svnPassword: '',
  deployDir: '/srv/shop', keepSnapshots: '10', concurrency: '5', ...overrides,
});

async function opRows(action: string) {
  return t.db.opLog.findMany({ where: { action }, orderBy: { id: 'asc' } });
}

describe('projects', () => {
  it('admin creates, edits and deletes a project, with groups, processes and hooks', async () => {
    await t.db.credential.create({ data: { name: 'c-proj', username: 'deploy', passwordEnc: encryptSecret(t.config.secretKey, 'pw-12345') } });
    const cred = await t.db.credential.findUniqueOrThrow({ where: { name: 'c-proj' } });
    const web1 = await t.db.host.create({ data: { name: 'web1', address: '10.0.0.1', credentialId: cred.id } });

    const created = await form(admin, '/admin/projects', projectForm({ name: 'crud' }));
    expect(created.status).toBe(302);
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'crud' } });
    expect(created.headers.location).toBe(`/admin/projects/${project.id}`);
    expect(project).toMatchObject({ deployDir: '/srv/shop', keepSnapshots: 10, concurrency: 5, svnPasswordEnc: null });

    const page = await admin.get(`/admin/projects/${project.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Project &#34;crud&#34; created');
    expect(page.text).toContain('id="test-svn"');

    const edited = await form(admin, `/admin/projects/${project.id}`, projectForm({ name: 'crud', description: 'changed', concurrency: '7' }));
    expect(edited.status).toBe(302);
    expect(await t.db.project.findUniqueOrThrow({ where: { id: project.id } })).toMatchObject({ description: 'changed', concurrency: 7 });

    const base = `/admin/projects/${project.id}`;
    expect((await form(admin, `${base}/groups`, { name: 'web', hosts: [String(web1.id)] })).status).toBe(302);
    const group = await t.db.hostGroup.findFirstOrThrow({ where: { projectId: project.id }, include: { hosts: true } });
    expect(group.hosts.map((h) => h.name)).toEqual(['web1']);
    expect((await form(admin, `${base}/processes`, { name: 'app', startCmd: 'systemctl start app', stopCmd: 'systemctl stop app', statusCmd: '', groups: String(group.id) })).status).toBe(302);
    expect((await form(admin, `${base}/hooks`, { name: 'build', stage: 'before-publish', script: 'make', timeoutSec: '60', position: '0' })).status).toBe(302);
    expect((await form(admin, `${base}/hooks`, { name: 'reload', stage: 'after-publish', script: 'nginx -s reload', timeoutSec: '30', position: '1' })).status).toBe(302);
    const hooks = await t.db.hook.findMany({ where: { projectId: project.id }, orderBy: { name: 'asc' } });
    expect(hooks.map((h) => [h.name, h.runOn])).toEqual([['build', 'server'], ['reload', 'target']]);

    // A sub-form error re-renders the project page with the add form open and what was typed.
    const badGroup = await form(admin, `${base}/groups`, { name: 'web', hosts: String(web1.id) });
    expect(badGroup.status).toBe(409);
    expect(badGroup.text).toContain('already exists in this project');
    expect(badGroup.text).toMatch(/class="collapse show[^"]*" id="add-group"/);

    const editGroup = await admin.get(`${base}/groups/${group.id}`);
    expect(editGroup.status).toBe(200);
    expect((await form(admin, `${base}/groups/${group.id}`, { name: 'web-renamed' })).status).toBe(302);
    const renamed = await t.db.hostGroup.findUniqueOrThrow({ where: { id: group.id }, include: { hosts: true } });
    expect(renamed).toMatchObject({ name: 'web-renamed', hosts: [] });
    expect((await form(admin, `${base}/hooks/${hooks[0].id}/delete`, {})).status).toBe(302);
    expect(await t.db.hook.count({ where: { projectId: project.id } })).toBe(1);

    const list = await admin.get('/admin/projects');
    expect(list.text).toMatch(/<table class="[^"]*datatable[^"]*" id="projects-table"/);
    expect(list.text).toContain('>crud</a>');

    const deleted = await form(admin, `${base}/delete`, {});
    expect(deleted.status).toBe(302);
    expect(deleted.headers.location).toBe('/admin/projects');
    expect(await t.db.project.findUnique({ where: { id: project.id } })).toBeNull();
    expect((await admin.get(base)).status).toBe(404);

    const actions = (await t.db.opLog.findMany({ where: { project: 'crud' } })).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['project.create', 'project.update', 'group.create', 'process.create', 'hook.create', 'group.update', 'hook.delete', 'project.delete']));
  });

  it('a validation error re-renders the form with the typed values and the field message, but never the typed secret', async () => {
    const res = await form(admin, '/admin/projects', projectForm({ name: 'typed-name', description: 'typed description', deployDir: 'srv/relative', keepSnapshots: '500', svnPassword: SVN_SECRET }));
    expect(res.status).toBe(400);
    expect(res.text).toContain('value="typed-name"');
    expect(res.text).toContain('value="typed description"');
    expect(res.text).toContain('value="srv/relative"');
    expect(res.text).toMatch(/id="f-deployDir"[^>]*>[\s\S]*?must be an absolute path/);
    expect(res.text).toContain('must be at most 100');
    expect(res.text).not.toContain(SVN_SECRET);
    expect(await t.db.project.findUnique({ where: { name: 'typed-name' } })).toBeNull();
  });

  it('keeps the SVN password encrypted, never shows it, and keeps it when the field is left empty', async () => {
    const res = await form(admin, '/admin/projects', projectForm({ name: 'secretive', svnPassword: SVN_SECRET }));
    expect(res.status).toBe(302);
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'secretive' } });
    expect(project.svnPasswordEnc).toMatch(/^v1:/);
    expect(project.svnPasswordEnc).not.toContain(SVN_SECRET);

    const edit = await admin.get(`/admin/projects/${project.id}`);
    expect(edit.text).not.toContain(SVN_SECRET);
    expect(edit.text).toMatch(/set · [0-9a-f]{6}/);
    const list = await admin.get('/admin/projects');
    expect(list.text).not.toContain(SVN_SECRET);
    expect(list.text).not.toContain(project.svnPasswordEnc!);

    // Saving with an empty password field keeps the stored one; "clear" removes it.
    await form(admin, `/admin/projects/${project.id}`, projectForm({ name: 'secretive', description: 'new words' }));
    expect((await t.db.project.findUniqueOrThrow({ where: { id: project.id } })).svnPasswordEnc).toBe(project.svnPasswordEnc);
    await form(admin, `/admin/projects/${project.id}`, projectForm({ name: 'secretive', description: 'new words', svnPassword: 'another-Secret-1' }));
    const changed = await t.db.project.findUniqueOrThrow({ where: { id: project.id } });
    expect(changed.svnPasswordEnc).not.toBe(project.svnPasswordEnc);
    await form(admin, `/admin/projects/${project.id}`, projectForm({ name: 'secretive', description: 'new words', clearSvnPassword: '1' }));
    expect((await t.db.project.findUniqueOrThrow({ where: { id: project.id } })).svnPasswordEnc).toBeNull();

    // The operation log names the changed fields, never the values.
    const updates = (await opRows('project.update')).filter((r) => r.project === 'secretive').map((r) => r.detail);
    expect(updates).toEqual(['changed: description', 'changed: svnPassword', 'changed: svnPassword']);
    const all = JSON.stringify(await t.db.opLog.findMany());
    expect(all).not.toContain(SVN_SECRET);
    expect(all).not.toContain('another-Secret-1');
    expect(t.logLines.join('')).not.toContain(SVN_SECRET);
  });

  it('lets an auditor read the pages but refuses every write with 403 and changes nothing', async () => {
    const project = await t.db.project.create({ data: { name: 'audited', svnUrl: 'svn://127.0.0.1/a', deployDir: '/srv/a' } });
    const auditor = await t.login('audrey', 'auditor');
    const list = await auditor.get('/admin/projects');
    expect(list.status).toBe(200);
    expect(list.text).toContain('>audited</a>');
    expect(list.text).not.toContain('href="/admin/projects/new"');
    const page = await auditor.get(`/admin/projects/${project.id}`);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('id="project-form"');
    expect(page.text).not.toContain('id="test-svn"');
    expect(page.text).not.toContain('/delete');
    for (const path of ['/admin/hosts', '/admin/credentials', '/admin/users']) expect((await auditor.get(path)).status).toBe(200);

    const auditorToken = await csrf(auditor, '/admin/projects');
    const posts = [
      form(auditor, '/admin/projects', projectForm({ name: 'sneaky' }), auditorToken),
      form(auditor, `/admin/projects/${project.id}`, projectForm({ name: 'audited', description: 'defaced' }), auditorToken),
      form(auditor, `/admin/projects/${project.id}/delete`, {}, auditorToken),
      form(auditor, `/admin/projects/${project.id}/groups`, { name: 'g' }, auditorToken),
      form(auditor, '/admin/users', { name: 'mallory', role: 'admin' }, auditorToken),
    ];
    for (const res of await Promise.all(posts)) expect(res.status).toBe(403);
    expect(await t.db.project.findUniqueOrThrow({ where: { id: project.id } })).toMatchObject({ name: 'audited', description: '' });
    expect(await t.db.project.findUnique({ where: { name: 'sneaky' } })).toBeNull();
    expect(await t.db.user.findUnique({ where: { name: 'mallory' } })).toBeNull();
    expect(await t.db.opLog.count({ where: { userName: 'audrey', result: 'denied' } })).toBe(5);
    // The "new" forms are for administrators only.
    expect((await auditor.get('/admin/projects/new')).status).toBe(403);
  });

  it('refuses members the configuration pages', async () => {
    const member = await t.login('mia', 'member');
    expect((await member.get('/admin/projects')).status).toBe(403);
    expect((await member.get('/admin/hosts')).status).toBe(403);
  });

  describe('Test SVN', () => {
    let svn: SvnServer;
    beforeAll(async () => {
      svn = await startSvnServer();
      await svn.commit({ 'trunk/readme.txt': 'hello' }, 'first');
    });
    afterAll(async () => svn?.stop());

    it('reports the head revision with the saved credentials and logs the result', async () => {
      await form(admin, '/admin/projects', projectForm({ name: 'svn-ok', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPassword: svn.password }));
      const project = await t.db.project.findUniqueOrThrow({ where: { name: 'svn-ok' } });
      const res = await admin.post(`/admin/projects/${project.id}/test-svn`).set('x-csrf-token', token).set('Accept', 'application/json').send({});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: true, revision: 1 });
      const row = (await opRows('project.test-svn')).at(-1);
      expect(row).toMatchObject({ result: 'ok', project: 'svn-ok' });
    });

    it('says plainly when the login is wrong', async () => {
      await form(admin, '/admin/projects', projectForm({ name: 'svn-bad', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPassword: 'wrong-password' }));
      const project = await t.db.project.findUniqueOrThrow({ where: { name: 'svn-bad' } });
      const res = await admin.post(`/admin/projects/${project.id}/test-svn`).set('x-csrf-token', token).send({});
      expect(res.body.ok).toBe(false);
      expect(res.body.message).toMatch(/check the username and password/);
      const row = (await opRows('project.test-svn')).at(-1);
      expect(row).toMatchObject({ result: 'failed', project: 'svn-bad' });
      expect(row?.detail).not.toContain('wrong-password');
    });
  });
});

describe('credentials', () => {
  const { private: KEY } = ssh2.utils.generateKeyPairSync('ed25519');
  const encrypted = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'open sesame', cipher: 'aes256-ctr', rounds: 4 });

  it('computes the key fingerprint, stores secrets encrypted and refuses a wrong passphrase on the key field', async () => {
    const res = await form(admin, '/admin/credentials', { name: 'deploy-key', username: 'deploy', privateKey: KEY });
    expect(res.status).toBe(302);
    const c = await t.db.credential.findUniqueOrThrow({ where: { name: 'deploy-key' } });
    expect(c.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(c.privateKeyEnc).toMatch(/^v1:/);
    const page = await admin.get(`/admin/credentials/${c.id}`);
    expect(page.text).toContain(c.fingerprint);
    expect(page.text).not.toContain('PRIVATE KEY');

    const bad = await form(admin, '/admin/credentials', { name: 'locked', username: 'deploy', privateKey: encrypted.private, passphrase: 'not it' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/id="f-privateKey"[\s\S]*?the passphrase is wrong/);
    expect(bad.text).toContain('value="locked"');
    expect(bad.text).not.toContain('PRIVATE KEY');

    const good = await form(admin, '/admin/credentials', { name: 'locked', username: 'deploy', privateKey: encrypted.private, passphrase: 'open sesame' });
    expect(good.status).toBe(302);
    const list = await admin.get('/admin/credentials');
    expect(list.text).not.toContain('open sesame');

    // Switching to a password keeps the key unless cleared; the log names fields only.
    await form(admin, `/admin/credentials/${c.id}`, { name: 'deploy-key', username: 'deploy', password: 'ssh-Password-9' });
    const after = await t.db.credential.findUniqueOrThrow({ where: { id: c.id } });
    expect(after.privateKeyEnc).toBe(c.privateKeyEnc);
    expect(after.passwordEnc).toMatch(/^v1:/);
    const row = (await opRows('credential.update')).at(-1);
    expect(row?.detail).toBe('changed: password');
    expect(JSON.stringify(await t.db.opLog.findMany())).not.toContain('ssh-Password-9');
  });

  it('refuses to delete a credential that hosts still use', async () => {
    const c = await t.db.credential.create({ data: { name: 'in-use', username: 'u', passwordEnc: encryptSecret(t.config.secretKey, 'x-12345678') } });
    await t.db.host.create({ data: { name: 'user-of-cred', address: '10.0.0.9', credentialId: c.id } });
    const res = await form(admin, `/admin/credentials/${c.id}/delete`, {});
    expect(res.status).toBe(302);
    const page = await admin.get(res.headers.location);
    expect(page.text).toContain('still used by 1 host(s): user-of-cred');
    expect(await t.db.credential.findUnique({ where: { id: c.id } })).not.toBeNull();
  });
});

describe('hosts', () => {
  let sshd: SshdHandle;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => sshd?.stop());

  it('refuses a jump-host loop', async () => {
    const c = await t.db.credential.create({ data: { name: 'c-loop', username: 'u', passwordEnc: encryptSecret(t.config.secretKey, 'x-12345678') } });
    const a = await t.db.host.create({ data: { name: 'loop-a', address: '10.1.0.1', credentialId: c.id } });
    const b = await t.db.host.create({ data: { name: 'loop-b', address: '10.1.0.2', credentialId: c.id, jumpHostId: a.id } });
    const res = await form(admin, `/admin/hosts/${a.id}`, { name: 'loop-a', address: '10.1.0.1', port: '22', credentialId: String(c.id), jumpHostId: String(b.id), relayMode: 'auto', hostKey: '' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('that would make a loop back to this host');
    expect((await t.db.host.findUniqueOrThrow({ where: { id: a.id } })).jumpHostId).toBeNull();
  });

  it('tests a connection, pins the key on first success and reports a changed key in plain words', async () => {
    const createdCred = await form(admin, '/admin/credentials', { name: 'sshd-key', username: sshd.username, privateKey: sshd.clientKey });
    expect(createdCred.status).toBe(302);
    const cred = await t.db.credential.findUniqueOrThrow({ where: { name: 'sshd-key' } });
    const created = await form(admin, '/admin/hosts', { name: 'real', address: sshd.host, port: String(sshd.port), credentialId: String(cred.id), jumpHostId: '', relayMode: 'auto', hostKey: '' });
    expect(created.status).toBe(302);
    const host = await t.db.host.findUniqueOrThrow({ where: { name: 'real' } });

    const first = await admin.post(`/admin/hosts/${host.id}/test`).set('x-csrf-token', token).send({});
    expect(first.body).toMatchObject({ ok: true, pinned: ['real'] });
    expect(first.body.fingerprint).toMatch(/^SHA256:/);
    expect((await t.db.host.findUniqueOrThrow({ where: { id: host.id } })).hostKey).toBe(sshd.hostKey);
    expect((await opRows('host.pin-key')).at(-1)).toMatchObject({ target: 'real', detail: first.body.fingerprint });
    const list = await admin.get('/admin/hosts');
    expect(list.text).toContain(first.body.fingerprint);

    await sshd.restartWithNewHostKey();
    const second = await admin.post(`/admin/hosts/${host.id}/test`).set('x-csrf-token', token).send({});
    expect(second.body.ok).toBe(false);
    expect(second.body.message).toMatch(/host key changed for real/);
    expect((await opRows('host.test')).at(-1)?.result).toBe('failed');

    const cleared = await form(admin, `/admin/hosts/${host.id}/clear-key`, {});
    expect(cleared.status).toBe(302);
    expect((await t.db.host.findUniqueOrThrow({ where: { id: host.id } })).hostKey).toBeNull();
  });
});

describe('users', () => {
  it('creates a user with a generated password shown once, edits the role and grants, refuses removing the last admin', async () => {
    const created = await form(admin, '/admin/users', { name: 'newbie', role: 'member', password: '' });
    expect(created.status).toBe(302);
    const shown = await admin.get(created.headers.location);
    const password = /shown only this once: ([A-Za-z0-9]{20})/.exec(shown.text)?.[1];
    expect(password).toBeDefined();
    expect((await admin.get(created.headers.location)).text).not.toContain(password!);

    const user = await t.db.user.findUniqueOrThrow({ where: { name: 'newbie' } });
    const project = await t.db.project.create({ data: { name: 'granted', svnUrl: 'svn://127.0.0.1/g', deployDir: '/srv/g' } });
    const grants = await form(admin, `/admin/users/${user.id}/grants`, { grant: [`${project.id}:publish`, `${project.id}:process`] });
    expect(grants.status).toBe(302);
    expect(await t.db.grant.findFirstOrThrow({ where: { userId: user.id } })).toMatchObject({ canPublish: true, canRollback: false, canProcess: true });
    expect((await opRows('grant.update')).at(-1)?.detail).toBe('changed: granted (none → publish, process)');
    expect((await admin.get('/admin/users')).text).toContain('granted: publish, process');

    const root = await t.db.user.findUniqueOrThrow({ where: { name: 'root' } });
    const others = await t.db.user.findMany({ where: { role: 'admin', id: { not: root.id } } });
    for (const o of others) await t.db.user.update({ where: { id: o.id }, data: { disabled: true } });
    const demoteSelf = await form(admin, `/admin/users/${root.id}`, { role: 'member' });
    expect(demoteSelf.status).toBe(400);
    expect((await t.db.user.findUniqueOrThrow({ where: { id: root.id } })).role).toBe('admin');
    const selfDelete = await form(admin, `/admin/users/${root.id}/delete`, {});
    expect((await admin.get(selfDelete.headers.location)).text).toContain('cannot delete your own account');

    const promoted = await form(admin, `/admin/users/${user.id}`, { role: 'admin' });
    expect(promoted.status).toBe(302);
    expect((await opRows('user.update')).at(-1)?.detail).toBe('changed: role (member → admin)');

    const reset = await form(admin, `/admin/users/${user.id}/password`, { password: 'typed-Password-1' });
    expect(reset.status).toBe(302);
    expect(JSON.stringify(await t.db.opLog.findMany())).not.toContain('typed-Password-1');
    const deleted = await form(admin, `/admin/users/${user.id}/delete`, {});
    expect(deleted.headers.location).toBe('/admin/users');
    expect(await t.db.user.findUnique({ where: { id: user.id } })).toBeNull();
  });
});

describe('bulk import page', () => {
  const PASSWORD = 'imp0rt-Secret-pw';
  const doc = `credentials:\n  - { name: imported-cred, username: deploy, password: "${PASSWORD}" }\n`;
  const upload = (agent: Agent, fields: Record<string, string>, csrfToken = token) => {
    let req = agent.post('/admin/import').field('_csrf', csrfToken);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    return req;
  };

  it('previews without echoing the secrets, applies exactly the sealed preview, and refuses a tampered or foreign one', async () => {
    const preview = await upload(admin, { text: doc, format: 'yaml' });
    expect(preview.status).toBe(200);
    expect(preview.text).toContain('Preview: nothing has changed yet');
    expect(preview.text).toContain('imported-cred');
    expect(preview.text).not.toContain(PASSWORD);
    expect(await t.db.credential.findUnique({ where: { name: 'imported-cred' } })).toBeNull();
    const sealed = /name="sealed" value="([^"]+)"/.exec(preview.text)?.[1];
    expect(sealed).toBeDefined();

    // Tampered: one character of the ciphertext changed.
    const last = sealed!.at(-2) === 'A' ? 'B' : 'A';
    const tampered = await upload(admin, { apply: '1', sealed: `${sealed!.slice(0, -2)}${last}${sealed!.at(-1)}` });
    expect(tampered.status).toBe(400);
    expect(tampered.text).toContain('cannot be applied');
    // Someone else's preview (another admin) is refused too.
    const other = await t.login('second-admin', 'admin');
    const otherToken = await csrf(other, '/admin/import');
    const foreign = await upload(other, { apply: '1', sealed: sealed! }, otherToken);
    expect(foreign.status).toBe(400);
    expect(foreign.text).toContain('belongs to another user');
    expect(await t.db.credential.findUnique({ where: { name: 'imported-cred' } })).toBeNull();

    const applied = await upload(admin, { apply: '1', sealed: sealed! });
    expect(applied.status).toBe(200);
    expect(applied.text).toContain('Applied changes');
    const cred = await t.db.credential.findUniqueOrThrow({ where: { name: 'imported-cred' } });
    expect(cred.username).toBe('deploy');
    expect(JSON.stringify(cred)).not.toContain(PASSWORD);
  });
});

describe('project pages in Chinese', () => {
  const zh = (req: ReturnType<Agent['get']>) => req.set('Accept-Language', 'zh-CN');
  const zhForm = (path: string, body: Record<string, unknown>) => form(admin, path, body).set('Accept-Language', 'zh-CN');

  it('shows the pages, field problems (also those with a number in them), flashes and refusals in Chinese', async () => {
    const list = await zh(admin.get('/admin/projects'));
    expect(list.text).toContain('<html lang="zh-CN">');
    expect(list.text).toContain('新建项目');
    expect(list.text).toContain('<th>部署目录</th>');

    // Field messages: static ones, and ones with a variable part (a length cap, a range).
    const bad = await zhForm('/admin/projects', projectForm({ name: '', description: 'x'.repeat(501), keepSnapshots: '0' }));
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('未保存任何内容。请修改标出的字段。');
    expect(bad.text).toContain('<div class="invalid-feedback">必填</div>');
    expect(bad.text).toContain('<div class="invalid-feedback">最多 500 个字符</div>');
    expect(bad.text).toContain('<div class="invalid-feedback">不能小于 1</div>');
    // The same form in English keeps the English messages.
    const badEn = await form(admin, '/admin/projects', projectForm({ name: '', description: 'x'.repeat(501) }));
    expect(badEn.text).toContain('<div class="invalid-feedback">at most 500 characters</div>');

    const created = await zhForm('/admin/projects', projectForm({ name: 'zh-shop' }));
    expect(created.status).toBe(302);
    const page = await zh(admin.get(created.headers.location));
    expect(page.text).toContain('项目“zh-shop”已创建。请在下方添加它的主机组、进程和钩子脚本。');
    expect(page.text).toContain('<h1 class="h3 me-auto mb-0">项目 zh-shop</h1>');
    expect(page.text).toContain('测试 SVN');

    const base = created.headers.location;
    expect((await zhForm(`${base}/groups`, { name: 'web' })).status).toBe(302);
    expect((await zh(admin.get(base))).text).toContain('主机组“web”已添加。');
    const dup = await zhForm(`${base}/groups`, { name: 'web' });
    expect(dup.status).toBe(409);
    expect(dup.text).toContain('此项目中已存在');
    const missing = await zh(admin.get(`${base}/groups/999999`));
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('该主机组不存在。');

    expect((await zhForm(`${base}/delete`, {})).status).toBe(302);
    expect((await zh(admin.get('/admin/projects'))).text).toContain('项目“zh-shop”已删除。');
  });
});
