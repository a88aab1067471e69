import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { FerryError } from '../../../src/lib/errors.ts';
import { parseImportData, parseImportFile } from '../../../src/services/import.ts';

const ED25519 = ssh2.utils.generateKeyPairSync('ed25519');
const LOCKED = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'open sesame', cipher: 'aes256-ctr', rounds: 4 });
const HOST_KEY = ssh2.utils.generateKeyPairSync('ed25519').public;

/** The FerryError thrown by fn, for asserting on its field messages. */
function problemsOf(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).status).toBe(400);
    return (err as FerryError).fields ?? {};
  }
  throw new Error('expected the import to be refused');
}

const full = () => ({
  credentials: [{ name: 'lab-key', username: 'root', privateKey: ED25519.private }],
  hosts: [
    { name: 'relay', address: 'relay.corp.example', credential: 'lab-key' },
    { name: 'zone1-a', address: 'zone1-a.corp.example', port: 2222, credential: 'lab-key', jump: 'relay', hostKey: `zone1-a.corp.example ${HOST_KEY} root@build`, relayMode: 'tunnel' },
  ],
  projects: [{
    name: 'game', svnUrl: 'svn://svn.example/game/trunk', svnUsername: 'build', svnPassword: 'svn-secret', deployDir: '/srv/game/',
    keepSnapshots: 5, groups: { zone1: ['zone1-a'] },
    processes: [{ name: 'zone1', start: 'bin/ctl.sh start zone1', stop: 'bin/ctl.sh stop zone1', status: 'bin/ctl.sh status zone1', groups: ['zone1'] }],
    hooks: [
      { stage: 'before-publish', script: 'make dist' },
      { stage: 'after-publish', script: 'sh scripts/post_publish.sh' },
      { stage: 'after-publish', script: 'sh scripts/notify.sh', name: 'notify', timeout: 30 },
      { stage: 'after-publish', script: 'sh scripts/third.sh' },
    ],
  }],
  users: [{ name: 'alice', role: 'member', password: 'alice-password', grants: { game: ['publish', 'rollback', 'process', 'publish'] } }],
});

describe('parseImportFile', () => {
  it('reads a YAML file and normalizes keys, hook names and paths', () => {
    const doc = parseImportFile(YAML.stringify(full()), 'yaml');
    expect(doc.credentials[0].fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(doc.hosts[1]).toMatchObject({ port: 2222, jump: 'relay', relayMode: 'tunnel', hostKey: HOST_KEY.split(' ').slice(0, 2).join(' ') });
    expect(doc.hosts[0].port).toBeUndefined();
    expect(doc.projects[0].deployDir).toBe('/srv/game');
    expect(doc.projects[0].hooks!.map((h) => [h.name, h.runOn, h.position, h.timeoutSec])).toEqual([
      ['before-publish-1', 'server', 0, undefined],
      ['after-publish-1', 'target', 0, undefined],
      ['notify', 'target', 1, 30],
      ['after-publish-3', 'target', 2, undefined],
    ]);
    expect(doc.users[0].grants).toEqual({ game: ['publish', 'rollback', 'process'] });
  });

  it('reads the same document from JSON, by name or by content', () => {
    const fromYaml = parseImportFile(YAML.stringify(full()), 'yaml');
    expect(parseImportFile(JSON.stringify(full(), null, 2), 'json')).toEqual(fromYaml);
    expect(parseImportFile(JSON.stringify(full()), 'auto')).toEqual(fromYaml);
    expect(parseImportFile(YAML.stringify(full()), 'auto', 'fleet.yml')).toEqual(fromYaml);
  });

  it('reads a CSV of hosts with groups split by ";" or "|" and empty cells left out', () => {
    const csv = [
      'name,address,port,credential,jump,project,groups',
      'relay,relay.corp.example,,lab-key,,,',
      'zone1-a,10.0.0.5,2222,lab-key,relay,game,zone1;all',
      '"zone2-a",10.0.0.6,22,lab-key,relay,game,zone2 | all',
    ].join('\r\n');
    const doc = parseImportFile(csv, 'auto', 'hosts.csv');
    expect(doc.hosts).toEqual([
      { name: 'relay', address: 'relay.corp.example', credential: 'lab-key' },
      { name: 'zone1-a', address: '10.0.0.5', port: 2222, credential: 'lab-key', jump: 'relay', project: 'game', groups: ['zone1', 'all'] },
      { name: 'zone2-a', address: '10.0.0.6', port: 22, credential: 'lab-key', jump: 'relay', project: 'game', groups: ['zone2', 'all'] },
    ].map((h) => expect.objectContaining(h)));
    expect(doc.hosts[0].jump).toBeUndefined();
    expect(doc.projects).toEqual([]);
    expect(parseImportFile('name,address,credential\nweb1,web1.example,k\n', 'auto').hosts).toHaveLength(1);
  });

  it('names the CSV row and field of a bad cell, and refuses unknown columns', () => {
    expect(problemsOf(() => parseImportFile('name,address,port,credential\na,a.example,99999,k\nb,,22,k\n', 'csv'))).toEqual({
      'hosts[0].port': 'must be at most 65535',
      'hosts[1].address': 'required',
    });
    expect(problemsOf(() => parseImportFile('name,address,credential,colour\na,b,c,red\n', 'csv'))).toEqual({
      'csv.columns[3]': 'unknown column "colour" (expected name, address, port, credential, jump, project, groups, hostKey, relayMode, deployDir)',
    });
    expect(problemsOf(() => parseImportFile('name,address,credential,groups\na,b,c,zone1\n', 'csv'))).toEqual({
      'hosts[0].project': 'required when groups are given',
    });
  });

  it('names entry and field of every problem', () => {
    const data = full();
    const bad = {
      ...data,
      hosts: [...data.hosts, { name: 'h3', address: 'h3', credential: 'lab-key' }, { name: 'h4', credential: 'lab-key', port: 'ssh', colour: 'red' }],
      projects: [{ ...data.projects[0], deployDir: 'srv/game', svnUrl: 'ftp://svn.example/game', hooks: [{ stage: 'after-deploy', script: 'x' }] }],
      users: [{ name: 'bob', role: 'root' }, { name: 'carol', role: 'member', password: 'short' }],
    };
    expect(problemsOf(() => parseImportData(bad))).toEqual({
      'hosts[3].address': 'required',
      'hosts[3].port': 'must be a whole number',
      'hosts[3].colour': 'unknown field',
      'projects[0].svnUrl': 'must start with svn://, svn+ssh://, http://, https:// or file://',
      'projects[0].deployDir': 'must be an absolute path (starting with /)',
      'projects[0].hooks[0].stage': 'must be one of before-publish, after-publish, before-restart, after-restart',
      'users[0].role': 'must be one of admin, member, auditor',
      'users[1].password': 'at least 8 characters',
    });
  });

  it('puts every problem in the error message too, for the CLI', () => {
    expect(() => parseImportData({ hosts: [{ name: 'a', credential: 'k' }] })).toThrow(
      /^The import file has 1 problem: hosts\[0\]\.address: required$/);
  });

  it('refuses duplicate names, in-file jump cycles and unknown top-level sections', () => {
    const data = full();
    expect(problemsOf(() => parseImportData({ ...data, servers: [] }))).toEqual({
      servers: 'unknown section (expected credentials, hosts, projects, users)',
    });
    expect(problemsOf(() => parseImportData({
      ...data,
      hosts: [
        { name: 'a', address: 'a', credential: 'lab-key', jump: 'b' },
        { name: 'b', address: 'b', credential: 'lab-key', jump: 'a' },
        { name: 'c', address: 'c', credential: 'lab-key', jump: 'c' },
        { name: 'd', address: 'd', credential: 'lab-key' },
        { name: 'd', address: 'd2', credential: 'lab-key' },
      ],
      projects: [{ ...data.projects[0], groups: {}, processes: [], hooks: [{ stage: 'after-publish', script: 'x' }, { stage: 'after-publish', script: 'y', name: 'after-publish-1' }] }],
    }))).toEqual({
      'hosts[4].name': 'duplicate name "d" (also hosts[3])',
      'projects[0].hooks[1].name': 'duplicate name "after-publish-1" (also projects[0].hooks[0])',
      'hosts[0].jump': 'jump hosts form a cycle: a -> b -> a',
      'hosts[1].jump': 'jump hosts form a cycle: b -> a -> b',
      'hosts[2].jump': 'a host cannot be its own jump host',
    });
  });

  it('checks credentials: a readable private key (with its passphrase) or a password, not both', () => {
    const base = { name: 'k', username: 'deploy' };
    expect(parseImportData({ credentials: [{ ...base, privateKey: LOCKED.private, passphrase: 'open sesame' }] }).credentials[0].fingerprint).toMatch(/^SHA256:/);
    expect(parseImportData({ credentials: [{ ...base, password: 'pw' }] }).credentials[0]).toMatchObject({ password: 'pw', fingerprint: '' });
    expect(problemsOf(() => parseImportData({
      credentials: [
        { ...base, privateKey: LOCKED.private, passphrase: 'wrong' },
        { ...base, name: 'k2', privateKey: LOCKED.private },
        { ...base, name: 'k3', privateKey: ED25519.public },
        { ...base, name: 'k4', privateKey: ED25519.private, password: 'pw' },
        { ...base, name: 'k5' },
      ],
    }))).toEqual({
      'credentials[0].privateKey': 'not a valid private key (or wrong passphrase)',
      'credentials[1].privateKey': 'not a valid private key (or wrong passphrase)',
      'credentials[2].privateKey': 'not a valid private key (or wrong passphrase)',
      'credentials[3].password': 'give either privateKey or password, not both',
      'credentials[4].privateKey': 'required (or give password)',
    });
  });

  it('refuses unreadable host keys and accepts known_hosts lines', () => {
    const host = { name: 'a', address: 'a', credential: 'k' };
    const [type, base64] = HOST_KEY.split(' ');
    expect(parseImportData({ hosts: [{ ...host, hostKey: `a.example,10.0.0.1 ${type} ${base64} comment` }] }).hosts[0].hostKey).toBe(`${type} ${base64}`);
    expect(parseImportData({ hosts: [{ ...host, hostKey: '' }] }).hosts[0].hostKey).toBeNull();
    expect(problemsOf(() => parseImportData({ hosts: [{ ...host, hostKey: 'ssh-ed25519 bm90IGEga2V5' }] }))).toEqual({
      'hosts[0].hostKey': 'not an SSH public key: expected "type base64", e.g. "ssh-ed25519 AAAAC3Nza..."',
    });
  });

  it('refuses files that do not parse or hold nothing', () => {
    expect(problemsOf(() => parseImportFile('hosts: [a, b', 'yaml')).file).toMatch(/^not valid YAML/);
    expect(problemsOf(() => parseImportFile('{"hosts": [', 'json')).file).toMatch(/^not valid JSON/);
    expect(problemsOf(() => parseImportFile('hosts:\n  - name: a\nhosts: []\n', 'yaml')).file).toMatch(/^not valid YAML/);
    expect(problemsOf(() => parseImportFile('  \n', 'auto'))).toEqual({ file: 'empty' });
    expect(problemsOf(() => parseImportFile('- a\n- b\n', 'yaml'))).toEqual({ file: 'must be a mapping' });
    expect(problemsOf(() => parseImportFile('hosts: []\n', 'yaml'))).toEqual({
      '(file)': 'nothing to import: the file has no credentials, hosts, projects or users',
    });
  });
});
