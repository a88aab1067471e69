// Bulk import against a real, migrated SQLite file: preview, all-or-nothing apply, idempotence, secrets at rest.
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { decryptSecret, verifyPassword } from '../../src/lib/crypto.ts';
import { FerryError } from '../../src/lib/errors.ts';
import { applyImport, importText, parseImportData, parseImportFile, planImport, type ImportPlan } from '../../src/services/import.ts';
import { adminCtx, auditorCtx, createTestDb, memberCtx, type TestDb } from '../kit/db.ts';

const KEY = ssh2.utils.generateKeyPairSync('ed25519');
const OTHER_KEY = ssh2.utils.generateKeyPairSync('ed25519');
const SVN_PASSWORD = 'svn-Secret-4711';
const USER_PASSWORD = 'alice-Password-0815';

const fleetData = () => ({
  credentials: [{ name: 'lab-key', username: 'root', privateKey: KEY.private }],
  hosts: [
    { name: 'relay', address: 'relay.corp.example', credential: 'lab-key' },
    { name: 'zone1-a', address: 'zone1-a.corp.example', port: 22, credential: 'lab-key', jump: 'relay' },
    { name: 'zone1-b', address: 'zone1-b.corp.example', credential: 'lab-key', jump: 'relay', relayMode: 'store-forward' },
  ],
  projects: [{
    name: 'game', description: 'The game servers', svnUrl: 'svn://svn.example/game/trunk', svnUsername: 'build', svnPassword: SVN_PASSWORD,
    deployDir: '/srv/game', keepSnapshots: 10, concurrency: 5,
    groups: { zone1: ['zone1-a', 'zone1-b'], relays: ['relay'] },
    processes: [{ name: 'zone1', start: 'bin/ctl.sh start zone1', stop: 'bin/ctl.sh stop zone1', status: 'bin/ctl.sh status zone1', groups: ['zone1'] }],
    hooks: [
      { stage: 'before-publish', script: 'sh scripts/check.sh' },
      { stage: 'after-publish', script: 'sh scripts/post_publish.sh', timeout: 60 },
    ],
  }],
  users: [{ name: 'alice', role: 'member', password: USER_PASSWORD, grants: { game: ['publish', 'rollback', 'process'] } }],
});
const fleetYaml = () => YAML.stringify(fleetData());

let t: TestDb;
beforeEach(async () => { t = await createTestDb(); });
afterEach(async () => { await t.cleanup(); });

async function counts() {
  const db = t.db;
  const [credentials, hosts, projects, groups, processes, hooks, users, grants] = await Promise.all([
    db.credential.count(), db.host.count(), db.project.count(), db.hostGroup.count(), db.process.count(), db.hook.count(), db.user.count(), db.grant.count(),
  ]);
  return { credentials, hosts, projects, groups, processes, hooks, users, grants };
}

async function updatedAts() {
  const rows = await Promise.all([
    t.db.credential.findMany({ select: { name: true, updatedAt: true } }),
    t.db.host.findMany({ select: { name: true, updatedAt: true } }),
    t.db.project.findMany({ select: { name: true, updatedAt: true } }),
    t.db.user.findMany({ select: { name: true, updatedAt: true } }),
  ]);
  return rows.flat().map((r) => `${r.name}@${r.updatedAt.toISOString()}`).sort();
}

const actions = (plan: ImportPlan) => plan.items.map((i) => `${i.kind}:${i.project ? `${i.project}/` : ''}${i.name}:${i.action}${i.changes.length ? `[${i.changes.join(',')}]` : ''}`);

async function refusal(promise: Promise<unknown>): Promise<FerryError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(FerryError);
  return err as FerryError;
}

describe('bulk import', () => {
  it('previews an import of a new fleet as all "create" and writes nothing', async () => {
    const before = await counts();
    const plan = await planImport(t.svc, parseImportFile(fleetYaml(), 'yaml'));
    expect(actions(plan)).toEqual([
      'credential:lab-key:create', 'host:relay:create', 'host:zone1-a:create', 'host:zone1-b:create', 'project:game:create',
      'group:game/zone1:create', 'group:game/relays:create', 'process:game/zone1:create',
      'hook:game/before-publish-1:create', 'hook:game/after-publish-1:create', 'user:alice:create',
    ]);
    expect(plan.summary).toBe('created 1 credential, 3 hosts, 1 project, 2 groups, 1 process, 2 hooks, 1 user');
    expect(await counts()).toEqual(before);
  });

  it('creates everything the file describes, with encrypted secrets and hashed passwords', async () => {
    const result = await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'), { source: 'fleet.yaml' });
    expect(result.dryRun).toBe(false);
    expect(await counts()).toEqual({ credentials: 1, hosts: 3, projects: 1, groups: 2, processes: 1, hooks: 2, users: 1, grants: 1 });

    const credential = await t.db.credential.findUniqueOrThrow({ where: { name: 'lab-key' } });
    expect(decryptSecret(t.secretKey, credential.privateKeyEnc!)).toBe(KEY.private);
    expect(credential.passwordEnc).toBeNull();
    expect(credential.fingerprint).toBe(parseImportData({ credentials: [{ name: 'x', username: 'u', privateKey: KEY.private }] }).credentials[0].fingerprint);

    const zone1b = await t.db.host.findUniqueOrThrow({ where: { name: 'zone1-b' }, include: { jumpHost: true, groups: true } });
    expect(zone1b).toMatchObject({ port: 22, relayMode: 'store-forward', hostKey: null, jumpHost: { name: 'relay' }, groups: [{ name: 'zone1' }] });

    const project = await t.db.project.findUniqueOrThrow({
      where: { name: 'game' }, include: { processes: { include: { groups: true } }, hooks: { orderBy: { stage: 'asc' } } },
    });
    expect(decryptSecret(t.secretKey, project.svnPasswordEnc!)).toBe(SVN_PASSWORD);
    expect(project).toMatchObject({ description: 'The game servers', deployDir: '/srv/game', keepSnapshots: 10, concurrency: 5 });
    expect(project.processes[0].groups.map((g) => g.name)).toEqual(['zone1']);
    expect(project.hooks.map((h) => [h.name, h.stage, h.runOn, h.timeoutSec])).toEqual([
      ['after-publish-1', 'after-publish', 'target', 60],
      ['before-publish-1', 'before-publish', 'server', 300],
    ]);

    const alice = await t.db.user.findUniqueOrThrow({ where: { name: 'alice' }, include: { grants: true } });
    expect(await verifyPassword(USER_PASSWORD, alice.passwordHash)).toBe(true);
    expect(alice.grants[0]).toMatchObject({ canPublish: true, canRollback: true, canProcess: true });
  });

  it('importing the same file twice changes nothing the second time', async () => {
    await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'));
    const before = { counts: await counts(), updatedAts: await updatedAts() };
    const alice = await t.db.user.findUniqueOrThrow({ where: { name: 'alice' } });

    const plan = await planImport(t.svc, parseImportFile(fleetYaml(), 'yaml'));
    expect(plan.items.filter((i) => i.action !== 'unchanged')).toEqual([]);
    expect(plan.items).toHaveLength(11);
    expect(plan.summary).toBe('nothing to change (11 unchanged)');

    await new Promise((resolve) => setTimeout(resolve, 20)); // so a needless write would show in updatedAt
    const again = await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'));
    expect(again.items).toHaveLength(11);
    expect(again.items.filter((i) => i.action !== 'unchanged')).toEqual([]);
    expect({ counts: await counts(), updatedAts: await updatedAts() }).toEqual(before);
    expect((await t.db.user.findUniqueOrThrow({ where: { name: 'alice' } })).passwordHash).toBe(alice.passwordHash);
  });

  it('updates only what differs and names secret fields without their values', async () => {
    await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'));
    const data = fleetData();
    data.credentials[0].privateKey = OTHER_KEY.private;
    data.hosts[1].address = '10.1.1.1';
    data.projects[0].svnPassword = 'new-svn-secret';
    data.projects[0].groups.zone1 = ['zone1-a'];
    data.projects[0].hooks[1].script = 'sh scripts/post_publish.sh --fast';
    data.users[0] = { ...data.users[0], password: 'alice-New-Password', role: 'auditor', grants: { game: ['publish'] } };

    const result = await applyImport(t.svc, adminCtx(), parseImportData(data));
    expect(actions(result).filter((a) => !a.endsWith(':unchanged'))).toEqual([
      'credential:lab-key:update[privateKey (secret),fingerprint]', 'host:zone1-a:update[address]', 'project:game:update[svnPassword (secret)]',
      'group:game/zone1:update[hosts]', 'hook:game/after-publish-1:update[script]', 'user:alice:update[role,password (secret),grants]',
    ]);
    expect(JSON.stringify(result)).not.toContain('new-svn-secret');
    expect(JSON.stringify(result)).not.toContain('alice-New-Password');
    expect(result.summary).toBe('updated 1 credential, 1 host, 1 project, 1 group, 1 hook, 1 user; 5 unchanged');

    const zone1 = await t.db.hostGroup.findFirstOrThrow({ where: { name: 'zone1' }, include: { hosts: true } });
    expect(zone1.hosts.map((h) => h.name)).toEqual(['zone1-a']);
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    expect(decryptSecret(t.secretKey, project.svnPasswordEnc!)).toBe('new-svn-secret');
    const alice = await t.db.user.findUniqueOrThrow({ where: { name: 'alice' }, include: { grants: true } });
    expect(alice.role).toBe('auditor');
    expect(await verifyPassword('alice-New-Password', alice.passwordHash)).toBe(true);
    expect(alice.grants[0]).toMatchObject({ canPublish: true, canRollback: false, canProcess: false });
  });

  it('keeps stored values of optional fields the file leaves out', async () => {
    await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'));
    const hostKey = KEY.public.split(' ').slice(0, 2).join(' ');
    await t.db.host.update({ where: { name: 'zone1-a' }, data: { hostKey, port: 2200 } });
    const plan = await planImport(t.svc, parseImportData({
      hosts: [{ name: 'zone1-a', address: 'zone1-a.corp.example', credential: 'lab-key' }],
      users: [{ name: 'alice', role: 'member' }],
    }));
    expect(actions(plan)).toEqual(['host:zone1-a:unchanged', 'user:alice:unchanged']);
  });

  it('resolves references to entries already in the database and refuses unknown ones by entry and field', async () => {
    await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'));
    const plan = await planImport(t.svc, parseImportData({
      hosts: [{ name: 'zone2-a', address: 'zone2-a.corp.example', credential: 'lab-key', jump: 'relay' }],
      projects: [{ name: 'game', svnUrl: 'svn://svn.example/game/trunk', deployDir: '/srv/game', groups: { zone2: ['zone2-a', 'zone1-b'] } }],
      users: [{ name: 'bob', role: 'member', password: 'bob-password', grants: { game: [] } }],
    }));
    expect(actions(plan)).toEqual([
      'host:zone2-a:create', 'project:game:unchanged', 'group:game/zone2:create', 'user:bob:create',
    ]);

    const err = await refusal(planImport(t.svc, parseImportData({
      hosts: [
        { name: 'a', address: 'a', credential: 'lab-key' },
        { name: 'b', address: 'b', credential: 'nokey' },
        { name: 'c', address: 'c', credential: 'lab-key', jump: 'relay2' },
      ],
      projects: [{
        name: 'game', svnUrl: 'svn://svn.example/game/trunk', deployDir: '/srv/game', groups: { zone1: ['zone1-a', 'x'] },
        processes: [{ name: 'p', start: 's', stop: 't', groups: ['zone1', 'zone9'] }],
      }],
      users: [{ name: 'carol', role: 'member', grants: { game: ['publish'], chess: ['publish'] } }],
    })));
    expect(err.status).toBe(400);
    expect(err.fields).toEqual({
      'hosts[1].credential': 'unknown credential "nokey"',
      'hosts[2].jump': 'unknown host "relay2"',
      'projects[0].groups.zone1[1]': 'unknown host "x"',
      'projects[0].processes[0].groups[1]': 'unknown group "zone9"',
      'users[0].grants.chess': 'unknown project',
      'users[0].password': 'required for a new user',
    });
  });

  it('refuses jump host cycles that go through stored hosts', async () => {
    await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'));
    const err = await refusal(applyImport(t.svc, adminCtx(), parseImportData({
      hosts: [{ name: 'relay', address: 'relay.corp.example', credential: 'lab-key', jump: 'zone1-a' }],
    })));
    expect(err.fields).toEqual({ 'hosts[0].jump': 'jump hosts form a cycle: relay -> zone1-a -> relay' });
    // Moving the chain the other way round in one file is fine.
    const plan = await planImport(t.svc, parseImportData({
      hosts: [
        { name: 'relay', address: 'relay.corp.example', credential: 'lab-key', jump: 'zone1-a' },
        { name: 'zone1-a', address: 'zone1-a.corp.example', credential: 'lab-key', jump: null },
      ],
    }));
    expect(actions(plan)).toEqual(['host:relay:update[jump]', 'host:zone1-a:update[jump]']);
  });

  it('puts CSV hosts into exactly the listed groups of an existing project', async () => {
    await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'));
    const csv = [
      'name,address,port,credential,jump,project,groups',
      'zone1-b,zone1-b.corp.example,,lab-key,relay,game,zone2|all',
      'zone2-a,zone2-a.corp.example,2222,lab-key,relay,game,zone2;all',
    ].join('\n');
    const result = await applyImport(t.svc, adminCtx(), parseImportFile(csv, 'auto', 'hosts.csv'));
    expect(actions(result)).toEqual([
      'host:zone1-b:unchanged', 'host:zone2-a:create',
      'group:game/zone2:create', 'group:game/all:create', 'group:game/zone1:update[hosts]',
    ]);
    const groups = await t.db.hostGroup.findMany({ include: { hosts: { orderBy: { name: 'asc' } } }, orderBy: { name: 'asc' } });
    expect(Object.fromEntries(groups.map((g) => [g.name, g.hosts.map((h) => h.name)]))).toEqual({
      all: ['zone1-b', 'zone2-a'], relays: ['relay'], zone1: ['zone1-a'], zone2: ['zone1-b', 'zone2-a'],
    });
    const replanned = actions(await planImport(t.svc, parseImportFile(csv, 'csv')));
    expect(replanned.length).toBeGreaterThan(0);
    expect(replanned.filter((a) => !a.endsWith(':unchanged'))).toEqual([]);
  });

  it('a dry run changes nothing and logs nothing', async () => {
    const result = await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'), { dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.items).toHaveLength(11);
    expect(result.items.filter((i) => i.action !== 'create')).toEqual([]);
    expect(await counts()).toEqual({ credentials: 0, hosts: 0, projects: 0, groups: 0, processes: 0, hooks: 0, users: 0, grants: 0 });
    expect(await t.db.opLog.count()).toBe(0);
  });

  it('a file with one bad entry imports nothing', async () => {
    const data = fleetData();
    data.hosts.push({ name: 'zone1-c', address: 'zone1-c.corp.example', port: 22, credential: 'lab-key', jump: 'nowhere' });
    const err = await refusal(importText(t.svc, adminCtx(), { text: YAML.stringify(data), filename: 'fleet.yaml' }));
    expect(err.fields).toEqual({ 'hosts[3].jump': 'unknown host "nowhere"' });
    expect(await counts()).toEqual({ credentials: 0, hosts: 0, projects: 0, groups: 0, processes: 0, hooks: 0, users: 0, grants: 0 });
    const log = await t.db.opLog.findMany();
    expect(log).toMatchObject([{ action: 'config.import', result: 'failed', target: 'fleet.yaml' }]);
    expect(log[0].detail).toContain('hosts[3].jump: unknown host "nowhere"');
  });

  it('a failure inside the transaction rolls back everything written before it', async () => {
    await applyImport(t.svc, adminCtx(), parseImportData({ credentials: [{ name: 'old', username: 'u', password: 'pw' }] }));
    const before = await counts();
    // Users are written last: fail there, after credentials, hosts, projects, groups, processes and hooks went in.
    await t.db.$executeRawUnsafe(`CREATE TRIGGER refuse_users BEFORE INSERT ON "User" BEGIN SELECT RAISE(ABORT, 'user table is read-only'); END`);
    // (Prisma reports the trigger's abort as a constraint violation.)
    await expect(applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'))).rejects.toThrow(/tx\.user\.create/);
    expect(await counts()).toEqual(before);
    const failed = await t.db.opLog.findFirstOrThrow({ where: { result: 'failed' } });
    expect(failed).toMatchObject({ action: 'config.import', userName: 'admin' });
    expect(failed.detail).toMatch(/^nothing imported: \S/);
    expect(failed.detail).not.toContain('\n');
    expect(failed.detail).not.toContain('v1:');
  });

  it('a name taken between preview and write aborts the whole import with a conflict', async () => {
    const doc = parseImportFile(fleetYaml(), 'yaml');
    // A row that appears after the plan was made but before the transaction writes it.
    await t.db.$executeRawUnsafe(`CREATE TRIGGER sneak_in AFTER INSERT ON "Project" BEGIN INSERT INTO "HostGroup" ("projectId", "name") VALUES (NEW.id, 'relays'); END`);
    const err = await refusal(applyImport(t.svc, adminCtx(), doc));
    expect(err.status).toBe(409);
    await t.db.$executeRawUnsafe('DROP TRIGGER sneak_in');
    expect(await counts()).toEqual({ credentials: 0, hosts: 0, projects: 0, groups: 0, processes: 0, hooks: 0, users: 0, grants: 0 });
  });

  it('stores no secret in clear in the database file', async () => {
    const data = fleetData();
    const credentials = [...data.credentials, { name: 'pw-login', username: 'ops', password: 'ssh-Password-1234' }];
    await applyImport(t.svc, adminCtx(), parseImportData({ ...data, credentials }));
    await t.db.$disconnect(); // flush to disk
    const files = fs.readdirSync(t.dir).filter((f) => f.startsWith(path.basename(t.dbFile)));
    const bytes = Buffer.concat(files.map((f) => fs.readFileSync(path.join(t.dir, f)))).toString('latin1');
    expect(bytes).toContain('zone1-a.corp.example'); // the read sees the data at all
    for (const secret of [SVN_PASSWORD, USER_PASSWORD, 'ssh-Password-1234', KEY.private.split('\n')[1]]) {
      expect(bytes).not.toContain(secret);
    }
  });

  it('logs one operation row per import with a summary and no secret values', async () => {
    await applyImport(t.svc, adminCtx({ id: null, name: 'root-admin', ip: '10.0.0.9' }), parseImportFile(fleetYaml(), 'yaml'), { source: 'fleet.yaml' });
    await applyImport(t.svc, adminCtx(), parseImportFile(fleetYaml(), 'yaml'));
    const log = await t.db.opLog.findMany({ orderBy: { id: 'asc' } });
    expect(log).toMatchObject([
      { action: 'config.import', result: 'ok', userName: 'root-admin', ip: '10.0.0.9', target: 'fleet.yaml', detail: expect.stringMatching(/^created 1 credential, 3 hosts, /) },
      { action: 'config.import', result: 'ok', detail: 'nothing to change (11 unchanged)' },
    ]);
    expect(JSON.stringify(log)).not.toContain(SVN_PASSWORD);
  });

  it('refuses non-admins with 403, logs the refusal and changes nothing', async () => {
    for (const ctx of [memberCtx({ name: 'mallory' }), auditorCtx({ name: 'audrey' })]) {
      const err = await refusal(applyImport(t.svc, ctx, parseImportFile(fleetYaml(), 'yaml')));
      expect(err.status).toBe(403);
      const dry = await refusal(applyImport(t.svc, ctx, parseImportFile(fleetYaml(), 'yaml'), { dryRun: true }));
      expect(dry.status).toBe(403);
    }
    expect(await counts()).toEqual({ credentials: 0, hosts: 0, projects: 0, groups: 0, processes: 0, hooks: 0, users: 0, grants: 0 });
    const log = await t.db.opLog.findMany();
    expect(log).toHaveLength(4);
    expect(log.filter((row) => row.action !== 'config.import' || row.result !== 'denied')).toEqual([]);
  });
});
