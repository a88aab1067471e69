// The bulk import and the admin forms apply one validation: a value a form refuses is refused by the import too,
// with an error naming the entry and the field, and nothing is written. Real app, real SQLite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type Agent, csrf } from '../helpers/app.ts';
import { adminCtx } from '../kit/db.ts';
import { createCredential } from '../../src/services/config/credentials.ts';
import { createHost } from '../../src/services/config/hosts.ts';
import { createProject } from '../../src/services/config/projects.ts';
import { parts } from '../../src/services/config/project-parts.ts';
import { createUserAccount } from '../../src/services/config/users.ts';
import { FerryError } from '../../src/lib/errors.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;
let admin: Agent;
let csrfToken: string;
let projectId: number;
let credentialId: number;

const good = () => ({
  credentials: [{ name: 'k1', username: 'deploy', password: 'secret-pass' }],
  hosts: [{ name: 'h1', address: '127.0.0.1', port: 22, credential: 'k1', deployDir: '/srv/h1' }],
  projects: [{
    name: 'p1', svnUrl: 'svn://127.0.0.1/repo', deployDir: '/srv/p1', concurrency: 5, keepSnapshots: 5, description: 'ok',
    processes: [{ name: 'app', start: 'start.sh', stop: 'stop.sh' }], hooks: [{ stage: 'after-publish', script: 'echo hi' }],
  }],
  users: [{ name: 'u1', role: 'member', password: 'long enough' }],
});

type Doc = ReturnType<typeof good>;
/** Each bad value: where it goes in an import document, the field key the import must name, and the same value for the form. */
const BAD: { label: string; edit: (d: Doc) => void; field: string; form: () => Promise<unknown>; formField: string }[] = [
  { label: 'a line break in a credential password', edit: (d) => { d.credentials[0].password = 'pass\nword'; }, field: 'credentials[0].password',
    form: () => createCredential(t.svc, adminCtx(), { name: 'fk', username: 'deploy', password: 'pass\nword' }), formField: 'password' },
  { label: 'a line break in a credential user name', edit: (d) => { d.credentials[0].username = 'de\nploy'; }, field: 'credentials[0].username',
    form: () => createCredential(t.svc, adminCtx(), { name: 'fk', username: 'de\nploy', password: 'x' }), formField: 'username' },
  { label: 'a 101-character credential user name', edit: (d) => { d.credentials[0].username = 'u'.repeat(101); }, field: 'credentials[0].username',
    form: () => createCredential(t.svc, adminCtx(), { name: 'fk', username: 'u'.repeat(101), password: 'x' }), formField: 'username' },
  { label: 'a 256-character host address', edit: (d) => { d.hosts[0].address = 'a'.repeat(256); }, field: 'hosts[0].address',
    form: () => createHost(t.svc, adminCtx(), { name: 'fh', address: 'a'.repeat(256), port: '22', credentialId: String(credentialId), relayMode: 'auto' }), formField: 'address' },
  { label: 'a host deployDir of "/"', edit: (d) => { d.hosts[0].deployDir = '/'; }, field: 'hosts[0].deployDir',
    form: () => createHost(t.svc, adminCtx(), { name: 'fh', address: 'x', port: '22', credentialId: String(credentialId), relayMode: 'auto', deployDir: '/' }), formField: 'deployDir' },
  { label: 'a host deployDir with ".."', edit: (d) => { d.hosts[0].deployDir = '/srv/../etc'; }, field: 'hosts[0].deployDir',
    form: () => createHost(t.svc, adminCtx(), { name: 'fh', address: 'x', port: '22', credentialId: String(credentialId), relayMode: 'auto', deployDir: '/srv/../etc' }), formField: 'deployDir' },
  { label: 'concurrency 1000', edit: (d) => { d.projects[0].concurrency = 1000; }, field: 'projects[0].concurrency',
    form: () => createProject(t.svc, adminCtx(), { name: 'fp', svnUrl: 'svn://x/y', deployDir: '/srv/fp', keepSnapshots: '5', concurrency: '1000' }), formField: 'concurrency' },
  { label: 'keepSnapshots 500', edit: (d) => { d.projects[0].keepSnapshots = 500; }, field: 'projects[0].keepSnapshots',
    form: () => createProject(t.svc, adminCtx(), { name: 'fp', svnUrl: 'svn://x/y', deployDir: '/srv/fp', keepSnapshots: '500', concurrency: '5' }), formField: 'keepSnapshots' },
  { label: 'a project deployDir of "/"', edit: (d) => { d.projects[0].deployDir = '/'; }, field: 'projects[0].deployDir',
    form: () => createProject(t.svc, adminCtx(), { name: 'fp', svnUrl: 'svn://x/y', deployDir: '/', keepSnapshots: '5', concurrency: '5' }), formField: 'deployDir' },
  { label: 'a project deployDir with ".."', edit: (d) => { d.projects[0].deployDir = '/srv/a/../../etc'; }, field: 'projects[0].deployDir',
    form: () => createProject(t.svc, adminCtx(), { name: 'fp', svnUrl: 'svn://x/y', deployDir: '/srv/a/../../etc', keepSnapshots: '5', concurrency: '5' }), formField: 'deployDir' },
  { label: 'a line break in a project deployDir', edit: (d) => { d.projects[0].deployDir = '/srv/a\nb'; }, field: 'projects[0].deployDir',
    form: () => createProject(t.svc, adminCtx(), { name: 'fp', svnUrl: 'svn://x/y', deployDir: '/srv/a\nb', keepSnapshots: '5', concurrency: '5' }), formField: 'deployDir' },
  { label: 'a line break in the SVN password', edit: (d) => { (d.projects[0] as Record<string, unknown>).svnPassword = 'a\r\nb'; }, field: 'projects[0].svnPassword',
    form: () => createProject(t.svc, adminCtx(), { name: 'fp', svnUrl: 'svn://x/y', deployDir: '/srv/fp', keepSnapshots: '5', concurrency: '5', svnPassword: 'a\r\nb' }), formField: 'svnPassword' },
  { label: 'a 501-character description', edit: (d) => { d.projects[0].description = 'd'.repeat(501); }, field: 'projects[0].description',
    form: () => createProject(t.svc, adminCtx(), { name: 'fp', svnUrl: 'svn://x/y', deployDir: '/srv/fp', keepSnapshots: '5', concurrency: '5', description: 'd'.repeat(501) }), formField: 'description' },
  { label: 'a 4001-character start command', edit: (d) => { d.projects[0].processes[0].start = 's'.repeat(4001); }, field: 'projects[0].processes[0].start',
    form: () => parts.process.create(t.svc, adminCtx(), projectId, { name: 'fproc', startCmd: 's'.repeat(4001), stopCmd: 'x' }), formField: 'startCmd' },
  { label: 'a 100001-character hook script', edit: (d) => { d.projects[0].hooks[0].script = 's'.repeat(100_001); }, field: 'projects[0].hooks[0].script',
    form: () => parts.hook.create(t.svc, adminCtx(), projectId, { name: 'fhook', stage: 'after-publish', script: 's'.repeat(100_001), timeoutSec: '60', position: '0' }), formField: 'script' },
  { label: 'a line break in a user password', edit: (d) => { d.users[0].password = 'long enough\nreally'; }, field: 'users[0].password',
    form: () => createUserAccount(t.svc, adminCtx(), { name: 'fu', role: 'member', password: 'long enough\nreally' }), formField: 'password' },
  { label: 'a 2000-character user password', edit: (d) => { d.users[0].password = 'p'.repeat(2000); }, field: 'users[0].password',
    form: () => createUserAccount(t.svc, adminCtx(), { name: 'fu', role: 'member', password: 'p'.repeat(2000) }), formField: 'password' },
];

async function counts() {
  const [c, h, p, u, pr, hk] = await Promise.all([t.db.credential.count(), t.db.host.count(), t.db.project.count(), t.db.user.count(), t.db.process.count(), t.db.hook.count()]);
  return { c, h, p, u, pr, hk };
}

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.login('root', 'admin');
  csrfToken = await csrf(admin);
  projectId = (await t.db.project.create({ data: { name: 'base', svnUrl: 'svn://127.0.0.1/base', deployDir: '/srv/base' } })).id;
  credentialId = (await t.db.credential.create({ data: { name: 'base-key', username: 'deploy' } })).id;
});

afterAll(async () => {
  await t?.cleanup();
});

describe('one validation for the import and the forms', () => {
  it('the good document passes the import preview (the cases below differ from it by one value)', async () => {
    const res = await admin.post('/api/import?dryRun=1').set('x-csrf-token', csrfToken).send(good());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it.each(BAD)('the import refuses $label, naming $field, and writes nothing', async ({ edit, field }) => {
    const before = await counts();
    const doc = good();
    edit(doc);
    const res = await admin.post('/api/import').set('x-csrf-token', csrfToken).send(doc);
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(400);
    expect(Object.keys(res.body.fields ?? {})).toContain(field);
    expect(res.body.error).toContain(field);
    expect(await counts()).toEqual(before);
  });

  it.each(BAD)('the form refuses $label on field $formField', async ({ form, formField }) => {
    const before = await counts();
    const err = await form().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).status).toBe(400);
    expect(Object.keys((err as FerryError).fields ?? {})).toContain(formField);
    expect(await counts()).toEqual(before);
  });

  it('the YAML import refuses the same values as the JSON one', async () => {
    const yaml = [
      'projects:',
      '  - name: p2',
      '    svnUrl: svn://127.0.0.1/r',
      '    deployDir: /srv/../etc',
      '    concurrency: 1000',
    ].join('\n');
    const res = await admin.post('/api/import').set('x-csrf-token', csrfToken).send({ format: 'yaml', content: yaml });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.fields)).toEqual(expect.arrayContaining(['projects[0].deployDir', 'projects[0].concurrency']));
    expect(await t.db.project.count({ where: { name: 'p2' } })).toBe(0);
  });
});
