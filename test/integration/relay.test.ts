// Store-and-forward through a relay against real sshd processes on 127.0.0.1: a relay, three targets behind it and a
// TCP proxy in front of the relay that counts what crosses the Ferry-to-relay link.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostPlan, PublishRequest } from '../../src/deploy/runner-types.ts';
import { createEngine } from '../../src/deploy/runner.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import type { HostTarget, JobEvent } from '../../src/deploy/types.ts';
import { runFile } from '../../src/lib/exec.ts';
import { startSshd, startTcpProxy, type SshdHandle, type TcpProxy } from '../kit/sshd.ts';
import { startSvnServer, type SvnServer } from '../kit/svnserve.ts';

const BIG = randomBytes(5 * 1024 * 1024);
const RUN_SH = '#!/bin/sh\necho relayed\n';
const FILES = ['data/big.bin', 'bin/run.sh', 'conf/app 配置.ini'];

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
/** Keys pinned on first contact, as the services would store them. */
const pinned: [string, string][] = [];
// A 1 MiB threshold: the 5 MiB test package to any relayed host is "big" and goes store-and-forward in auto mode.
const engine = createEngine({
  transport: createSshTransport(), runFile, logger: quiet, connectTimeoutMs: 10_000, relayTunnelMaxBytes: 1024 * 1024,
  onNewHostKey: (host, key) => void pinned.push([host, key]),
});
/** The default threshold (16 MiB): one host behind a relay is sent a 5 MiB package through the tunnel. */
const defaultEngine = createEngine({ transport: createSshTransport(), runFile, logger: quiet, connectTimeoutMs: 10_000 });

let svn: SvnServer;
/**
 * `relay` copies; `bare` is a relay whose PATH has no ssh; `outer` is the relay's own jump host (multi-level) and,
 * used as a relay itself, one that refuses agent forwarding.
 */
let relay: SshdHandle, bare: SshdHandle, outer: SshdHandle;
let targets: SshdHandle[];
let relayProxy: TcpProxy, bareProxy: TcpProxy, outerProxy: TcpProxy;
let relayTmp: string, bareTmp: string, scratch: string;
let nextJobId = 1;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'ferry-relay-test-'));
  relayTmp = join(scratch, 'relay-tmp');
  bareTmp = join(scratch, 'bare-tmp');
  // The "bare" relay's PATH has the usual tools but no ssh client.
  const bin = join(scratch, 'bin-without-ssh');
  for (const dir of [relayTmp, bareTmp, bin]) mkdirSync(dir);
  for (const tool of ['sh', 'bash', 'env', 'cat', 'rm', 'mkdir', 'mktemp', 'sha256sum', 'sleep', 'kill', 'printf']) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (found) symlinkSync(found, join(bin, tool));
  }
  svn = await startSvnServer();
  await svn.commit({
    'trunk/data/big.bin': BIG,
    'trunk/bin/run.sh': { content: RUN_SH, executable: true },
    'trunk/conf/app 配置.ini': 'level=1\n',
  }, 'big build');
  [relay, bare, outer, ...targets] = await Promise.all([
    startSshd({ extraConfig: [`SetEnv TMPDIR=${relayTmp}`] }),
    startSshd({ extraConfig: [`SetEnv TMPDIR=${bareTmp} PATH=${bin}`] }),
    startSshd({ extraConfig: ['Match all', '  AllowAgentForwarding no'] }),
    startSshd(),
    startSshd(),
    startSshd(),
  ]);
  [relayProxy, bareProxy, outerProxy] = await Promise.all([startTcpProxy(relay.port), startTcpProxy(bare.port), startTcpProxy(outer.port)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([relayProxy?.close(), bareProxy?.close(), outerProxy?.close()]);
  await Promise.all([svn?.stop(), relay?.stop(), bare?.stop(), outer?.stop(), ...(targets ?? []).map((t) => t.stop())]);
  rmSync(scratch, { recursive: true, force: true });
});

/** The relay as Ferry reaches it: through the counting proxy, its host key pinned. */
function relayTarget(server: SshdHandle, proxy: TcpProxy, name: string, jump: HostTarget | null = null): HostTarget {
  return server.target({ name, port: proxy.port, hostKey: server.hostKey, jump });
}

function planFor(target: SshdHandle, name: string, jump: HostTarget, relayMode: HostPlan['relayMode'], overrides: Partial<HostTarget> = {}): HostPlan {
  return { name, target: target.target({ name, hostKey: target.hostKey, jump, ...overrides }), deployDir: target.dir, relayMode };
}

async function publish(hosts: PublishRequest['hosts'], onEvent?: (e: JobEvent) => void, using = engine, drift?: PublishRequest['drift']) {
  const events: JobEvent[] = [];
  const req: PublishRequest = {
    jobId: nextJobId++, project: 'relay', user: 'ops', keepSnapshots: 3, concurrency: 3,
    svn: { url: `${svn.url}/trunk`, username: svn.username, password: svn.password },
    files: FILES, hosts, hooks: { beforePublish: [], afterPublish: [] }, drift,
  };
  const outcome = await using.publish(req, (e) => {
    events.push(e);
    onEvent?.(e);
  });
  const hostEvents = (name: string) => events.filter((e): e is Extract<JobEvent, { type: 'host' }> => e.type === 'host' && e.host === name);
  return {
    jobId: req.jobId,
    outcome,
    phases: (name: string) => hostEvents(name).map((e) => e.phase),
    final: (name: string) => hostEvents(name).at(-1),
    output: (name: string) => events.filter((e) => e.type === 'output' && e.host === name).map((e) => (e as { text: string }).text).join(''),
  };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function expectPublished(target: SshdHandle, jobId: number): void {
  expect(sha256(readFileSync(join(target.dir, 'data/big.bin')))).toBe(sha256(BIG));
  expect(readFileSync(join(target.dir, 'bin/run.sh'), 'utf8')).toBe(RUN_SH);
  expect(statSync(join(target.dir, 'bin/run.sh')).mode & 0o111).not.toBe(0);
  expect(statSync(join(target.dir, 'data/big.bin')).mode & 0o111).toBe(0);
  expect(readFileSync(join(target.dir, 'conf/app 配置.ini'), 'utf8')).toBe('level=1\n');
  expect(readdirSync(join(target.dir, '.ferry', 'incoming'))).toEqual([]);
  expect(existsSync(join(target.dir, '.ferry', 'snapshots', `${jobId}.tar.gz`))).toBe(true);
}

/** Files under `dir` (recursively) whose text holds a private key. */
function privateKeyFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const stat = lstatSync(full);
      if (stat.isDirectory()) walk(full);
      else if (stat.isFile() && readFileSync(full).includes('PRIVATE KEY')) found.push(full);
    }
  };
  walk(dir);
  return found;
}

describe('relay store-and-forward', () => {
  it('sends the package over the relay link once, and every target gets the right bytes and modes', async () => {
    const via = relayTarget(relay, relayProxy, 'r1');
    const hosts = targets.map((t, i) => planFor(t, `t${i + 1}`, via, 'auto'));
    const homeSsh = join(homedir(), '.ssh');
    const keysInHomeBefore = privateKeyFiles(homeSsh);
    // While the copies run, the relay's temp dir holds the staged package and the trust files, and no private key.
    let duringCopy: { staged: string[]; keys: string[] } | null = null;
    relayProxy.resetBytes();
    const job = await publish(hosts, (e) => {
      if (duringCopy || e.type !== 'host' || e.phase !== 'relay-copy') return;
      const staged = readdirSync(relayTmp).flatMap((d) => readdirSync(join(relayTmp, d)).map((f) => `${d}/${f}`));
      duringCopy = { staged, keys: [...privateKeyFiles(relayTmp), ...privateKeyFiles(homeSsh)] };
    });
    const { up } = relayProxy.bytes();

    for (const [i, t] of targets.entries()) {
      const name = `t${i + 1}`;
      expect(job.final(name), job.output(name)).toMatchObject({ status: 'succeeded', phase: 'done' });
      expect(job.phases(name)).toEqual(expect.arrayContaining(['staging', 'relay-copy', 'verifying', 'snapshot', 'extracting', 'done']));
      expect(job.phases(name)).not.toContain('uploading');
      expectPublished(t, job.jobId);
    }
    const ratio = up / job.outcome.bytes;
    console.info(`store-forward: ${up} bytes up the relay link for a ${job.outcome.bytes}-byte package (${ratio.toFixed(3)}x)`);
    expect(job.outcome.bytes).toBeGreaterThan(5_000_000);
    expect(ratio).toBeGreaterThan(0.99);
    expect(ratio).toBeLessThan(1.5);

    expect(duringCopy).not.toBeNull();
    expect(duringCopy!.staged).toEqual(expect.arrayContaining([expect.stringMatching(/\/wire$/), expect.stringMatching(/\/known_hosts$/)]));
    expect(duringCopy!.keys).toEqual(keysInHomeBefore);
    expect(readdirSync(relayTmp)).toEqual([]);
    expect(privateKeyFiles(homeSsh)).toEqual(keysInHomeBefore);
  });

  it('in tunnel mode streams the package through the relay once per target', async () => {
    const via = relayTarget(relay, relayProxy, 'r1');
    relayProxy.resetBytes();
    const job = await publish(targets.map((t, i) => planFor(t, `t${i + 1}`, via, 'tunnel')));
    const { up } = relayProxy.bytes();
    for (const [i, t] of targets.entries()) {
      expect(job.final(`t${i + 1}`)).toMatchObject({ status: 'succeeded' });
      expect(job.phases(`t${i + 1}`)).not.toContain('relay-copy');
      expectPublished(t, job.jobId);
    }
    const ratio = up / job.outcome.bytes;
    console.info(`tunnel: ${up} bytes up the relay link for a ${job.outcome.bytes}-byte package (${ratio.toFixed(3)}x)`);
    expect(ratio).toBeGreaterThan(2.9);
    expect(ratio).toBeLessThan(3.5);
  });

  it('a target without a pinned host key is pinned through the tunnel first, then served by store-and-forward', async () => {
    const via = relayTarget(relay, relayProxy, 'r1');
    const hosts = [planFor(targets[0], 't1', via, 'auto'), planFor(targets[1], 't2', via, 'auto', { hostKey: null })];
    pinned.length = 0;
    const job = await publish(hosts);
    for (const name of ['t1', 't2']) {
      expect(job.final(name), job.output(name)).toMatchObject({ status: 'succeeded' });
      expect(job.phases(name)).toEqual(expect.arrayContaining(['staging', 'relay-copy']));
      expect(job.phases(name)).not.toContain('uploading');
    }
    expect(job.output('t2')).toContain('pinned the host key through the tunnel, for the relay to check');
    expect(pinned).toEqual([['t2', targets[1].hostKey]]);
    expectPublished(targets[1], job.jobId);
    expect(readdirSync(relayTmp)).toEqual([]);
  });

  it('auto sends a small package through the tunnel: no staging on the relay', async () => {
    const via = relayTarget(relay, relayProxy, 'r1');
    const job = await publish([planFor(targets[0], 't1', via, 'auto')], undefined, defaultEngine);
    expect(job.final('t1'), job.output('t1')).toMatchObject({ status: 'succeeded' });
    expect(job.phases('t1')).toContain('uploading');
    expect(job.phases('t1')).not.toContain('staging');
    expect(job.phases('t1')).not.toContain('relay-copy');
    expectPublished(targets[0], job.jobId);
  });

  it('a relay without ssh: auto hosts fall back to the tunnel, a store-forward host fails with the reason', async () => {
    const via = relayTarget(bare, bareProxy, 'bare');
    const hosts = [planFor(targets[0], 't1', via, 'auto'), planFor(targets[1], 't2', via, 'auto'), planFor(targets[2], 't3', via, 'store-forward')];
    const t3Conf = join(targets[2].dir, 'conf/app 配置.ini');
    const readT3Conf = () => (existsSync(t3Conf) ? readFileSync(t3Conf, 'utf8') : null); // absent when this test runs alone
    const before = readT3Conf();
    bareProxy.resetBytes();
    const job = await publish(hosts);
    for (const name of ['t1', 't2']) {
      expect(job.final(name), job.output(name)).toMatchObject({ status: 'succeeded' });
      expect(job.output(name)).toContain('relay bare has no ssh command: streaming through the tunnel instead');
    }
    expect(job.final('t3')).toMatchObject({ status: 'failed', phase: 'staging', error: 'relay bare has no ssh command' });
    expect(readT3Conf()).toBe(before);
    // Nothing was staged on the bare relay: only the two tunnelled uploads crossed its link.
    expect(bareProxy.bytes().up / job.outcome.bytes).toBeLessThan(2.5);
    expect(readdirSync(bareTmp)).toEqual([]);
  });

  it('a relay that refuses agent forwarding: auto hosts fall back to the tunnel', async () => {
    const via = relayTarget(outer, outerProxy, 'outer');
    const job = await publish([planFor(targets[0], 't1', via, 'auto')]);
    expect(job.final('t1'), job.output('t1')).toMatchObject({ status: 'succeeded' });
    expect(job.output('t1')).toContain('relay outer does not allow agent forwarding (sshd AllowAgentForwarding): streaming through the tunnel instead');
    expectPublished(targets[0], job.jobId);
  });

  it('never copies into a target whose .ferry/incoming is a symbolic link', async () => {
    const via = relayTarget(relay, relayProxy, 'r1');
    const incoming = join(targets[0].dir, '.ferry', 'incoming');
    const outside = mkdtempSync(join(scratch, 'outside-'));
    mkdirSync(incoming, { recursive: true });
    rmSync(incoming, { recursive: true });
    symlinkSync(outside, incoming);
    try {
      const job = await publish([planFor(targets[0], 't1', via, 'store-forward')]);
      expect(readdirSync(outside)).toEqual([]);
      expect(job.final('t1')).toMatchObject({ status: 'failed', phase: 'relay-copy' });
      expect(job.final('t1')!.error).toBe(`".ferry/incoming" on t1 is a symbolic link (to ${outside}); Ferry keeps its packages, snapshots and journal only in real directories the login user owns — nothing was changed on this host`);
    } finally {
      rmSync(incoming);
      mkdirSync(incoming);
    }
  });

  it('refuses to copy to a target whose pinned key does not match: host-key checking stays on', async () => {
    const via = relayTarget(relay, relayProxy, 'r1');
    const wrongKey = targets[1].hostKey;
    const job = await publish([planFor(targets[0], 't1', via, 'store-forward', { hostKey: wrongKey })]);
    expect(job.final('t1')).toMatchObject({ status: 'failed', phase: 'relay-copy' });
    expect(job.final('t1')!.error).toBe(
      'copying the package from relay r1 to t1 failed: the host key t1 presented does not match the key pinned in Ferry (ssh on the relay: Host key verification failed)',
    );
    // Nothing arrived on t1 (its incoming directory may not even exist when this test runs alone).
    const incoming = join(targets[0].dir, '.ferry', 'incoming');
    expect(existsSync(incoming) ? readdirSync(incoming) : []).toEqual([]);
    expect(readdirSync(relayTmp)).toEqual([]);
  });

  it('with a relay behind another jump host, the last jump host copies and the first link carries the package once', async () => {
    const first = relayTarget(outer, outerProxy, 'outer');
    const via = relay.target({ name: 'r1', hostKey: relay.hostKey, jump: first });
    outerProxy.resetBytes();
    const job = await publish(targets.map((t, i) => planFor(t, `t${i + 1}`, via, 'auto')));
    for (const [i, t] of targets.entries()) {
      expect(job.final(`t${i + 1}`), job.output(`t${i + 1}`)).toMatchObject({ status: 'succeeded' });
      expect(job.phases(`t${i + 1}`)).toContain('relay-copy');
      expectPublished(t, job.jobId);
    }
    expect(outerProxy.bytes().up / job.outcome.bytes).toBeLessThan(1.5);
    expect(readdirSync(relayTmp)).toEqual([]);
  });
});

describe('hand edits on relayed targets', () => {
  it('are checked by the program the relay runs: a drifted target is refused untouched, the others hold every file and stop there', async () => {
    const via = relayTarget(relay, relayProxy, 'r1');
    const plans = targets.map((t, i) => planFor(t, `t${i + 1}`, via, 'store-forward'));
    const first = await publish(plans);
    for (const name of ['t1', 't2', 't3']) expect(first.final(name), first.output(name)).toMatchObject({ status: 'succeeded', phase: 'done' });
    // Ferry's record of what it put there: the package's own files.
    const recorded = first.outcome.files!;
    expect(recorded.map((f) => f.path).sort()).toEqual([...FILES].sort());
    const conf = join(targets[1].dir, 'conf/app 配置.ini');
    const edited = 'level=9 # by hand\n';
    writeFileSync(conf, edited);
    const withRecords = plans.map((plan) => ({ ...plan, recorded }));

    const refused = await publish(withRecords, undefined, engine, { overwrite: false, skipUnchanged: true });
    expect(refused.final('t2')).toMatchObject({ status: 'failed', snapshotTaken: false });
    expect(refused.final('t2')!.error).toBe('1 file on this host was edited by hand since Ferry\'s last release (conf/app 配置.ini); nothing was changed. Publish again with "overwrite hand edits" ticked to replace it.');
    expect(refused.output('t2')).toContain('  conf/app 配置.ini\n');
    expect(readFileSync(conf, 'utf8')).toBe(edited);
    expect(existsSync(join(targets[1].dir, '.ferry', 'snapshots', `${refused.jobId}.tar.gz`))).toBe(false);
    expect(readdirSync(join(targets[1].dir, '.ferry', 'incoming'))).toEqual([]);
    for (const name of ['t1', 't3']) {
      expect(refused.final(name), refused.output(name)).toMatchObject({ status: 'succeeded', phase: 'unchanged' });
      expect(refused.output(name)).toContain('skipped: every file is already in place');
    }
    expect(refused.outcome.drift).toEqual([{ host: 't2', paths: ['conf/app 配置.ini'], overwritten: false }]);
    expect(readdirSync(relayTmp)).toEqual([]);

    const overwritten = await publish(withRecords, undefined, engine, { overwrite: true, skipUnchanged: true });
    expect(overwritten.final('t2'), overwritten.output('t2')).toMatchObject({ status: 'succeeded', phase: 'done' });
    expect(readFileSync(conf, 'utf8')).toBe('level=1\n');
    expect(overwritten.outcome.drift).toEqual([{ host: 't2', paths: ['conf/app 配置.ini'], overwritten: true }]);
    expect(readdirSync(relayTmp)).toEqual([]);
  });
});
