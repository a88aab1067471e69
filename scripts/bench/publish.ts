// Publish benchmark: Ferry's real HTTP API vs a raw `tar | ssh` fan-out vs Ansible `unarchive`, to N local sshd
// targets (half of them behind a relay sshd), from a local svnserve repository. Prints numbers; asserts nothing.
//   npm run bench:publish -- --hosts 12 --size 32 [--small 300] [--concurrency N] [--only ferry,raw,raw1,ansible] [--keep]
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { startSvnServer, type SvnServer } from '../../test/helpers/svnserve.ts';
import { startSshd, startTcpProxy, type SshdHandle, type TcpProxy } from '../../test/helpers/sshd.ts';
import { createDb } from '../../src/lib/db.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { shq } from '../../src/deploy/remote.ts';
import { runFile } from '../../src/lib/exec.ts';
import { createSshTransport } from '../../src/deploy/transport.ts';
import {
  foreignWorkload, HttpClient, intFlag, machineCpuSeconds, machineSummary, median, mib, now, parseFlags, processCpuSeconds, readSse, secs,
  startFerryServer, table, waitForQuiet,
  REPO_ROOT, type FerryServer, type SseEvent,
  runBench,
} from './common.ts';

const METHODS = ['ferry', 'raw', 'raw1', 'ansible'] as const;
type Method = (typeof METHODS)[number];

interface Target {
  name: string;
  sshd: SshdHandle;
  relayed: boolean;
  keyFile: string;
}

interface MethodResult {
  method: Method;
  label: string;
  wallMs: number;
  ok: number;
  failures: string[];
  relayUp: number;
  relayDown: number;
  relayConnections: number;
  /** Busy CPU seconds of the whole machine during the run (all processes, both cores). */
  machineCpu: number;
  /** CPU seconds of the Ferry server process itself (Ferry only), and of its waited-for children (svn). */
  ferryCpu?: { self: number; children: number };
  /** Cores busy just before the run (nothing of ours runs then), and other test runners seen during it. */
  background: number;
  disturbed: string[];
  /** Remote commands and SFTP sessions per target (mean), and on the relay itself, from the sshd logs. */
  commandsPerTarget: number;
  sftpPerTarget: number;
  relayCommands: number;
  relaySftp: number;
  note?: string;
}

const flags = parseFlags(process.argv.slice(2));
const HOSTS = intFlag(flags, 'hosts', 12);
const SIZE_MB = intFlag(flags, 'size', 32);
const SMALL_FILES = intFlag(flags, 'small', 300);
const CONCURRENCY = intFlag(flags, 'concurrency', HOSTS);
const KEEP = flags.has('keep');
// --login-rc: leave the targets' login HOME as is, so every remote command also runs root's ~/.bashrc (on this machine a
// pyenv init costing ~0.1 s of CPU per command). By default the targets get a clean HOME, like a deploy account.
const LOGIN_RC = flags.has('login-rc');
const ONLY = (flags.get('only') ?? METHODS.join(',')).split(',').map((m) => m.trim()) as Method[];
for (const m of ONLY) if (!METHODS.includes(m)) throw new Error(`--only: unknown method "${m}" (use ${METHODS.join(', ')})`);

const BIG_FILE = 'data/big.bin';
const log = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stderr.write(`[bench] ${text}\n`);

async function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number; env?: Record<string, string> } = {}) {
  const r = await runFile(cmd, args, { cwd: opts.cwd, input: opts.input, timeoutMs: opts.timeoutMs ?? 2 * 3600_000, maxBuffer: 64 * 1024 * 1024, env: opts.env });
  if (r.code !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/** Runs `sh -c script`; resolves with exit code and the tail of stderr. */
function sh(script: string, env?: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
    child.stderr.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
    child.on('close', (code) => resolve({ code: code ?? 255, out }));
  });
}

// ---- the source tree: one big incompressible file plus many small text files

const WORDS = 'zone server config level spawn map guild item drop rate boss timer shard region player match queue reward event patch'.split(' ');

function textFile(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const line = `${WORDS[Math.floor(Math.random() * WORDS.length)]}_${Math.floor(Math.random() * 1000)} = ${randomBytes(6).toString('hex')} ${WORDS[Math.floor(Math.random() * WORDS.length)]}`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

async function buildSource(dir: string): Promise<{ bigSha256: string; files: number; bytes: number }> {
  await mkdir(path.join(dir, 'data'), { recursive: true });
  const hash = createHash('sha256');
  const out = createWriteStream(path.join(dir, BIG_FILE));
  const chunk = 1024 * 1024;
  for (let i = 0; i < SIZE_MB; i++) {
    const buf = randomBytes(chunk);
    hash.update(buf);
    if (!out.write(buf)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  let bytes = SIZE_MB * chunk;
  const kinds = [['conf', 'ini'], ['scripts', 'lua'], ['maps', 'json'], ['docs', 'txt']] as const;
  for (let i = 0; i < SMALL_FILES; i++) {
    const [sub, ext] = kinds[i % kinds.length];
    const rel = sub === 'maps' ? `${sub}/zone-${i % 10}/m${i}.${ext}` : `${sub}/f${i}.${ext}`;
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    const content = textFile(200 + Math.floor(Math.random() * 12_000));
    bytes += content.length;
    await writeFile(path.join(dir, rel), content);
  }
  return { bigSha256: hash.digest('hex'), files: SMALL_FILES + 1, bytes };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const c of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) hash.update(c);
  return hash.digest('hex');
}

async function countFiles(dir: string, skipTop: string[] = []): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (skipTop.includes(entry.name)) continue;
    if (entry.isDirectory()) n += await countFiles(path.join(dir, entry.name));
    else if (entry.isFile()) n++;
  }
  return n;
}

// ---- per-method helpers

async function cleanTargets(targets: Target[]) {
  for (const t of targets) {
    for (const entry of await readdir(t.sshd.dir)) await rm(path.join(t.sshd.dir, entry), { recursive: true, force: true });
  }
}

async function verify(targets: Target[], bigSha256: string, expectedFiles: number): Promise<{ ok: number; failures: string[] }> {
  const failures: string[] = [];
  for (const t of targets) {
    const file = path.join(t.sshd.dir, BIG_FILE);
    if (!existsSync(file)) {
      failures.push(`${t.name}: ${BIG_FILE} missing`);
      continue;
    }
    const sum = await sha256File(file);
    if (sum !== bigSha256) {
      failures.push(`${t.name}: sha256 ${sum.slice(0, 12)}… != ${bigSha256.slice(0, 12)}…`);
      continue;
    }
    const files = await countFiles(t.sshd.dir, ['.ferry']);
    if (files !== expectedFiles) failures.push(`${t.name}: ${files} files, expected ${expectedFiles}`);
  }
  return { ok: targets.length - failures.length, failures };
}

interface FerryRun {
  wallMs: number;
  status: string;
  hosts: { host: string; status: string; error: string | null }[];
  events: SseEvent[];
  postMs: number;
  t0: number;
  rssBefore: number;
  rssPeakSampled: number;
  hwmAfter: number;
  packageBytes: number | null;
  packageFiles: number | null;
  exportDoneAt: number | null;
  packageReadyAt: number | null;
  serverJob: { createdAt: string; finishedAt: string | null };
}

async function runFerry(server: FerryServer, api: HttpClient): Promise<FerryRun> {
  const rssBefore = server.memory().rss;
  const logsBefore = server.logs.length;
  const stopSampling = server.sampleRss(25);
  const t0 = now();
  const post = await api.request('POST', '/api/projects/bench/publish', { json: { files: ['.'], groups: ['all'], note: 'bench' } });
  const postMs = now() - t0;
  if (post.status !== 201) throw new Error(`publish refused: HTTP ${post.status} ${post.text}`);
  const jobId = (JSON.parse(post.text) as { jobId: number }).jobId;
  const events: SseEvent[] = [];
  let end: SseEvent | undefined;
  await readSse(`${api.base}/api/jobs/${jobId}/events`, api.headers(), (e) => {
    events.push(e);
    if (e.event === 'end') end = e;
  });
  const tEnd = end?.at ?? now();
  const rssPeakSampled = stopSampling();
  const job = (end?.data ?? {}) as { status: string; hosts: { host: string; status: string; error: string | null }[]; createdAt: string; finishedAt: string | null };
  const newLogs = server.logs.slice(logsBefore);
  const exportDone = newLogs.find((l) => l.msg === 'svn export done');
  const packReady = newLogs.find((l) => l.msg === 'package ready' && l.jobId === jobId);
  return {
    wallMs: tEnd - t0, status: job.status, hosts: job.hosts ?? [], events, postMs, t0, rssBefore, rssPeakSampled,
    hwmAfter: server.memory().hwm,
    packageBytes: typeof packReady?.bytes === 'number' ? packReady.bytes : null,
    packageFiles: typeof packReady?.files === 'number' ? packReady.files : null,
    exportDoneAt: exportDone ? exportDone.time - performance.timeOrigin : null,
    packageReadyAt: packReady ? packReady.time - performance.timeOrigin : null,
    serverJob: { createdAt: job.createdAt, finishedAt: job.finishedAt },
  };
}

/** Per host: each phase's first appearance (SSE arrival time), in order; phases differ for direct and relayed hosts. */
function ferryBreakdown(r: FerryRun, targets: Target[]): string {
  const lines: string[] = [];
  const rel = (t: number | null) => (t === null ? NaN : t - r.t0);
  const packingAt = r.events.find((e) => e.event === 'progress' && (e.data as { type: string; message?: string }).message === 'packing')?.at ?? null;
  const phasesOf = new Map<string, { phase: string; at: number }[]>();
  for (const e of r.events) {
    if (e.event !== 'progress') continue;
    const ev = e.data as { type: string; host?: string; phase?: string; snapshotTaken?: boolean };
    if (ev.type !== 'host' || !ev.host || !ev.phase) continue;
    // The engine repeats 'snapshot' with snapshotTaken once the snapshot is on the target; it then waits until
    // the job recorder has written that to the database before extracting.
    const phase = ev.phase === 'snapshot' && ev.snapshotTaken ? 'snapshot-taken' : ev.phase;
    const list = phasesOf.get(ev.host) ?? [];
    if (!list.some((p) => p.phase === phase)) list.push({ phase, at: e.at });
    phasesOf.set(ev.host, list);
  }
  const firstEvent = Math.min(...[...phasesOf.values()].map((l) => l[0]?.at ?? Infinity));
  const lastDone = Math.max(...[...phasesOf.values()].map((l) => l.find((p) => p.phase === 'done')?.at ?? -Infinity));
  lines.push(`  POST /publish answered (job created)      ${secs(r.postMs)}`);
  lines.push(`  svn export done (server log)             at ${secs(rel(r.exportDoneAt))}${packingAt ? `  ('packing' event at ${secs(packingAt - r.t0)})` : ''}`);
  lines.push(`  package ready (server log)               at ${secs(rel(r.packageReadyAt))}  -> pack took ${secs((r.packageReadyAt ?? NaN) - (r.exportDoneAt ?? NaN))}` +
    `${r.packageBytes !== null ? `, ${mib(r.packageBytes)}, ${r.packageFiles} files` : ''}`);
  lines.push(`  first host event                         at ${secs(firstEvent - r.t0)}`);
  lines.push(`  last host done                           at ${secs(lastDone - r.t0)}`);
  lines.push(`  job end event (SSE)                      at ${secs(r.wallMs)}   (server job row: created ${r.serverJob.createdAt}, finished ${r.serverJob.finishedAt})`);
  const rows: string[][] = [];
  for (const relayed of [false, true]) {
    const names = targets.filter((t) => t.relayed === relayed).map((t) => t.name);
    const steps = new Map<string, number[]>();
    for (const name of names) {
      const list = phasesOf.get(name) ?? [];
      for (let i = 0; i + 1 < list.length; i++) {
        const key = `${list[i].phase} -> ${list[i + 1].phase}`;
        steps.set(key, [...(steps.get(key) ?? []), list[i + 1].at - list[i].at]);
      }
    }
    for (const [key, durations] of steps) {
      rows.push([relayed ? 'via relay' : 'direct', key, secs(median(durations)), secs(Math.max(...durations)), String(durations.length)]);
    }
  }
  lines.push('  per-host phases, from SSE progress events (connecting -> uploading/verifying = SSH login; uploading -> snapshot = mkdir + SFTP upload +');
  lines.push('  remote sha256sum + mv; snapshot -> snapshot-taken = existence check + tar of old files + small writes; snapshot-taken -> extracting =');
  lines.push('  waiting until the job recorder has persisted it; staging = the one upload to the relay; relay-copy = relay ssh copy to the target):');
  lines.push(table(['hosts', 'phase', 'median', 'max', 'n'], rows).split('\n').map((l) => `    ${l}`).join('\n'));
  return lines.join('\n');
}

// ---- main

async function main() {
  const started = now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-publish-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    step(`work dir ${work}`);
    const srcDir = path.join(work, 'src');
    const exportDir = path.join(work, 'export');
    const keysDir = path.join(work, 'keys');
    await mkdir(keysDir, { recursive: true });

    step(`generating ${SIZE_MB} MiB random file + ${SMALL_FILES} small files`);
    let t = now();
    const source = await buildSource(srcDir);
    const genMs = now() - t;

    step('starting svnserve and importing the tree');
    const svn: SvnServer = await startSvnServer({ users: { builder: 'bench-svn-pass' } });
    cleanups.push(() => svn.stop());
    const svnConfig = ['--non-interactive', '--config-dir', path.join(work, 'svn-config')];
    t = now();
    await run('svn', ['import', '--quiet', ...svnConfig, '-m', 'bench build', srcDir, `file://${svn.root}/trunk`]);
    const importMs = now() - t;
    await rm(srcDir, { recursive: true, force: true });

    step(`starting ${HOSTS} target sshd + 1 relay sshd`);
    // VERBOSE logs one 'Starting session' line per remote command or SFTP session: counted per method.
    const cleanHome = path.join(work, 'target-home');
    await mkdir(cleanHome, { recursive: true });
    const extraConfig = LOGIN_RC ? [] : [`SetEnv HOME=${cleanHome}`];
    const sshds = await Promise.all(Array.from({ length: HOSTS + 1 }, () => startSshd({ logLevel: 'VERBOSE', extraConfig })));
    cleanups.push(() => Promise.all(sshds.map((s) => s.stop())));
    const relay = sshds[0];
    const relayProxy: TcpProxy = await startTcpProxy(relay.port);
    cleanups.push(() => relayProxy.close());
    const targets: Target[] = sshds.slice(1).map((s, i) => ({
      name: `t${String(i + 1).padStart(2, '0')}`, sshd: s, relayed: i % 2 === 1, keyFile: path.join(keysDir, `t${String(i + 1).padStart(2, '0')}`),
    }));
    const relayKey = path.join(keysDir, 'relay');
    for (const [file, key] of [[relayKey, relay.clientKey], ...targets.map((x) => [x.keyFile, x.sshd.clientKey])] as [string, string][]) {
      await writeFile(file, key, { mode: 0o600 });
      await chmod(file, 0o600);
    }
    const knownHosts = path.join(work, 'known_hosts');
    await writeFile(knownHosts, [
      `[127.0.0.1]:${relayProxy.port} ${relay.hostKey}`,
      `[127.0.0.1]:${relay.port} ${relay.hostKey}`,
      ...targets.map((x) => `[127.0.0.1]:${x.sshd.port} ${x.sshd.hostKey}`),
      '',
    ].join('\n'));
    const sshConfig = path.join(work, 'ssh_config');
    const user = relay.username;
    await writeFile(sshConfig, [
      // The relay hop goes through the counting proxy, for every method.
      'Host relay',
      '  HostName 127.0.0.1',
      `  Port ${relayProxy.port}`,
      `  User ${user}`,
      `  IdentityFile ${relayKey}`,
      'Host *',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  IdentitiesOnly yes',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '',
    ].join('\n'));

    step('exporting once with svn export (not counted)');
    t = now();
    await run('svn', ['export', '--quiet', ...svnConfig, `file://${svn.root}/trunk`, exportDir]);
    const exportMs = now() - t;
    const expectedFiles = await countFiles(exportDir);

    step('starting Ferry as its own process, as `npm start` does');
    const dataDir = path.join(work, 'ferry-data');
    const server = await startFerryServer({
      dataDir, secretKeyHex: randomBytes(32).toString('hex'), adminPassword: 'bench-admin-password', logFile: path.join(work, 'ferry-server.log'),
    });
    cleanups.push(() => server.stop());
    const rssAfterStart = server.memory();
    // The token is made the way `npm run ferry -- token create` makes it: straight in the server's database.
    const db = createDb(path.join(dataDir, 'ferry.db'));
    const token = await createToken({ db, logger: createLogger({ level: 'silent' }), secretKey: Buffer.alloc(32) }, { actor: cliActor(), ip: 'cli' }, 'admin', 'bench');
    await db.$disconnect();
    const api = new HttpClient(server.url, token);
    const imported = await api.request('POST', '/api/import', {
      json: {
        credentials: [
          { name: 'relay-key', username: user, privateKey: relay.clientKey },
          ...targets.map((x) => ({ name: `${x.name}-key`, username: user, privateKey: x.sshd.clientKey })),
        ],
        hosts: [
          { name: 'relay', address: '127.0.0.1', port: relayProxy.port, credential: 'relay-key', hostKey: relay.hostKey },
          ...targets.map((x) => ({
            name: x.name, address: '127.0.0.1', port: x.sshd.port, credential: `${x.name}-key`, hostKey: x.sshd.hostKey,
            deployDir: x.sshd.dir, ...(x.relayed ? { jump: 'relay' } : {}),
          })),
        ],
        projects: [{
          name: 'bench', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPassword: svn.password, deployDir: '/srv/unused',
          keepSnapshots: 5, concurrency: CONCURRENCY, groups: { all: targets.map((x) => x.name) },
        }],
      },
    });
    if (imported.status !== 201) throw new Error(`import failed: HTTP ${imported.status} ${imported.text}`);

    let pkgPath: string | null = null;
    let pkgMs = NaN;
    let pkgBytes = NaN;
    if (ONLY.includes('raw1') || ONLY.includes('ansible')) {
      pkgPath = path.join(work, 'release.tar.gz');
      t = now();
      await run('tar', ['czf', pkgPath, '-C', exportDir, '.']);
      pkgMs = now() - t;
      pkgBytes = (await stat(pkgPath)).size;
    }
    const hasAnsible = ONLY.includes('ansible') && (await sh('command -v ansible-playbook')).code === 0;

    const setupMs = now() - started;
    const results: MethodResult[] = [];
    let ferryRun: FerryRun | null = null;

    /** Runs a method on a quiet machine; if another test runner disturbed it, runs it again (3 tries). */
    const measure = async (method: Method, label: string, body: () => Promise<{ note?: string } | void>) => {
      for (let attempt = 1; attempt <= 3; attempt++) {
        await measureOnce(method, label, body);
        const last = results[results.length - 1];
        if (last.disturbed.length === 0 || attempt === 3) return;
        step(`${label}: another test runner ran meanwhile (${last.disturbed[0]}), measuring again`);
        results.pop();
      }
    };
    const measureOnce = async (method: Method, label: string, body: () => Promise<{ note?: string } | void>) => {
      await cleanTargets(targets);
      const background = await waitForQuiet(label, { sampleMs: 2000 });
      relayProxy.resetBytes();
      const logMarks = sshds.map((x) => x.readLog().length);
      step(`running ${label}`);
      const disturbed = new Set<string>();
      const watch = setInterval(() => foreignWorkload().forEach((p) => disturbed.add(p)), 1000);
      const cpu0 = machineCpuSeconds();
      const ferry0 = processCpuSeconds(server.pid);
      const t0 = now();
      const extra = (await body()) ?? {};
      const wallMs = now() - t0;
      const machineCpu = machineCpuSeconds() - cpu0;
      const ferry1 = processCpuSeconds(server.pid);
      const ferryCpu = method === 'ferry' ? { self: ferry1.self - ferry0.self, children: ferry1.children - ferry0.children } : undefined;
      clearInterval(watch);
      const sessions = sshds.map((x, i) => {
        const text = x.readLog().slice(logMarks[i]);
        return { commands: (text.match(/Starting session: command/g) ?? []).length, sftp: (text.match(/Starting session: subsystem/g) ?? []).length };
      });
      const perTarget = sessions.slice(1);
      const { up: bytesUp, down: bytesDown, connections } = relayProxy.bytes();
      step(`verifying ${label}`);
      const v = await verify(targets, source.bigSha256, expectedFiles);
      results.push({ method, label, wallMs, ...v, relayUp: bytesUp, relayDown: bytesDown, relayConnections: connections, machineCpu, ferryCpu,
        background, disturbed: [...disturbed], note: extra.note,
        commandsPerTarget: perTarget.reduce((n, x) => n + x.commands, 0) / perTarget.length,
        sftpPerTarget: perTarget.reduce((n, x) => n + x.sftp, 0) / perTarget.length,
        relayCommands: sessions[0].commands, relaySftp: sessions[0].sftp });
    };

    const sshArgs = (x: Target) =>
      `ssh -F ${shq(sshConfig)} -i ${shq(x.keyFile)} -p ${x.sshd.port}${x.relayed ? ' -J relay' : ''} ${user}@127.0.0.1`;

    // Single-host primitives on a quiet machine: what one remote step and one upload cost, Ferry's transport vs OpenSSH.
    let primitives = '';
    if (pkgPath) {
      await waitForQuiet('primitives', { sampleMs: 2000 });
      const x = targets[0];
      const remotePkg = path.join(x.sshd.dir, 'primitive.tar.gz');
      let t1 = now();
      const session = await createSshTransport().connect(x.sshd.target({ name: x.name, hostKey: x.sshd.hostKey }));
      const connectMs = now() - t1;
      const execMs: number[] = [];
      for (let i = 0; i < 20; i++) {
        t1 = now();
        await session.exec('true');
        execMs.push(now() - t1);
      }
      t1 = now();
      await session.exec(`cat > ${shq(remotePkg)}`, { stdin: createReadStream(pkgPath) });
      const sftpMs = now() - t1;
      await session.close();
      await rm(remotePkg, { force: true });
      const sshTrue: number[] = [];
      for (let i = 0; i < 5; i++) {
        t1 = now();
        await sh(`${sshArgs(x)} true`);
        sshTrue.push(now() - t1);
      }
      t1 = now();
      await sh(`${sshArgs(x)} ${shq(`cat > ${shq(remotePkg)}`)} < ${shq(pkgPath)}`);
      const catMs = now() - t1;
      await rm(remotePkg, { force: true });
      t1 = now();
      for (let i = 0; i < 5; i++) await sh('bash -ic true 2>/dev/null');
      const shellStartMs = (now() - t1) / 5;
      const rate = (ms: number) => `${(pkgBytes / 1024 / 1024 / (ms / 1000)).toFixed(0)} MiB/s`;
      primitives = [
        `single host, quiet machine: Ferry transport (ssh2) connect+login ${secs(connectMs)}, one remote command (exec 'true') median ${median(execMs).toFixed(1)} ms` +
          ` (sshd runs it with the account's shell: includes its start-up files; local 'bash -ic true' takes ${secs(shellStartMs)}),`,
        `  SFTP upload of the ${mib(pkgBytes)} package ${secs(sftpMs)} (${rate(sftpMs)}); OpenSSH 'ssh host true' (new connection each) median ${secs(median(sshTrue))},`,
        `  OpenSSH 'ssh host "cat > f" < package' ${secs(catMs)} (${rate(catMs)})`,
      ].join('\n');
    }

    for (const method of ONLY) {
      if (method === 'ferry') {
        await measure('ferry', 'Ferry (HTTP API publish)', async () => {
          ferryRun = await runFerry(server, api);
          return { note: `job ${ferryRun.status}` };
        });
      } else if (method === 'raw') {
        await measure('raw', 'raw: tar czf | ssh tar xzf (per host)', async () => {
          const outs = await Promise.all(targets.map((x) =>
            sh(`tar czf - -C ${shq(exportDir)} . | ${sshArgs(x)} ${shq(`tar xzf - -C ${shq(x.sshd.dir)}`)}`)));
          const bad = outs.filter((o) => o.code !== 0);
          return { note: bad.length ? `${bad.length} failed: ${bad[0].out.trim().slice(-300)}` : 'all exit 0' };
        });
      } else if (method === 'raw1' && pkgPath) {
        const pkg = pkgPath;
        await measure('raw1', 'raw: one tar.gz, ssh tar xzf < pkg', async () => {
          const outs = await Promise.all(targets.map((x) => sh(`${sshArgs(x)} ${shq(`tar xzf - -C ${shq(x.sshd.dir)}`)} < ${shq(pkg)}`)));
          const bad = outs.filter((o) => o.code !== 0);
          return { note: bad.length ? `${bad.length} failed: ${bad[0].out.trim().slice(-300)}` : 'all exit 0 (pack not counted)' };
        });
      } else if (method === 'ansible') {
        if (!hasAnsible || !pkgPath) {
          log('Ansible: ansible-playbook is not on PATH, skipped.');
          continue;
        }
        const inventory = path.join(work, 'inventory.yml');
        await writeFile(inventory, JSON.stringify({
          all: {
            vars: { ansible_python_interpreter: '/usr/bin/python3', ansible_user: user },
            hosts: Object.fromEntries(targets.map((x) => [x.name, {
              ansible_host: '127.0.0.1', ansible_port: x.sshd.port, ansible_ssh_private_key_file: x.keyFile,
              ansible_ssh_common_args: `-F ${sshConfig}${x.relayed ? ' -o ProxyJump=relay' : ''}`, deploy_dir: x.sshd.dir,
            }])),
          },
        }, null, 2));
        const playbook = path.join(work, 'playbook.yml');
        await writeFile(playbook, [
          '- hosts: all',
          '  gather_facts: false',
          '  tasks:',
          '    - name: unpack the release',
          '      ansible.builtin.unarchive:',
          '        src: "{{ pkg }}"',
          '        dest: "{{ deploy_dir }}"',
          '',
        ].join('\n'));
        const env = {
          ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: '0', ANSIBLE_LOCAL_TEMP: path.join(work, 'ansible-local'),
          ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(work, 'ansible-cp'), ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_FORKS: String(HOSTS),
        };
        const pkg = pkgPath;
        await measure('ansible', `Ansible unarchive (forks=${HOSTS})`, async () => {
          const out = await sh(`ansible-playbook -i ${shq(inventory)} -f ${HOSTS} -e ${shq(JSON.stringify({ pkg }))} ${shq(playbook)}`, env);
          const recap = /PLAY RECAP[\s\S]*/.exec(out.out)?.[0] ?? '';
          const failed = /failed=[1-9]|unreachable=[1-9]/.test(recap);
          return { note: out.code === 0 && !failed ? 'rc 0' : `rc ${out.code}: ${out.out.trim().slice(-600)}` };
        });
      }
    }

    // ---- report
    const byMethod = (m: Method) => results.find((r) => r.method === m);
    const ferry = byMethod('ferry');
    log('');
    log('=== Ferry publish benchmark ===');
    log(`machine: ${machineSummary()}; Ferry at git ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim()}` +
      `${execFileSync('git', ['status', '--porcelain', 'src'], { cwd: REPO_ROOT }).toString().trim() ? ' (+ uncommitted changes in src/)' : ''}`);
    log(`nproc: ${execFileSync('nproc').toString().trim()}`);
    log(execFileSync('free', ['-m']).toString().trimEnd());
    log(`targets: ${HOSTS} sshd (${targets.filter((x) => !x.relayed).length} direct, ${targets.filter((x) => x.relayed).length} via relay sshd through a counting proxy), all on 127.0.0.1`);
    log(`tree: ${expectedFiles} files, ${mib(source.bytes)} (${BIG_FILE} = ${SIZE_MB} MiB random), svn import ${secs(importMs)}, generate ${secs(genMs)}, svn export (once, not counted) ${secs(exportMs)}`);
    if (pkgPath) log(`tar.gz for raw1/Ansible: ${mib(pkgBytes)}, built once in ${secs(pkgMs)} (not counted in their wall time)`);
    log(`Ferry project concurrency: ${CONCURRENCY} (Ferry's default is 10), keepSnapshots 5; server started as "${server.command}", RSS after start ${mib(rssAfterStart.rss)}`);
    log(`setup total ${secs(setupMs)}`);
    if (primitives) log(primitives);
    log('');
    log(table(['method', 'wall', 'vs Ferry', 'CPU s (machine)', 'ssh cmds/target (+sftp), relay', 'verify sha256', 'relay bytes up / down (conns)', 'note'], results.map((r) => [
      r.label, secs(r.wallMs), ferry ? `${(ferry.wallMs / r.wallMs).toFixed(2)}x` : '-', r.machineCpu.toFixed(1),
      `${r.commandsPerTarget.toFixed(1)}${r.sftpPerTarget ? ` (+${r.sftpPerTarget.toFixed(1)})` : ''}, ${r.relayCommands}${r.relaySftp ? ` (+${r.relaySftp})` : ''}`,
      r.failures.length ? `FAIL ${r.ok}/${HOSTS}` : `OK ${r.ok}/${HOSTS}`,
      `${mib(r.relayUp)} / ${mib(r.relayDown)} (${r.relayConnections})`, r.note ?? '',
    ])));
    for (const r of results) for (const f of r.failures.slice(0, 5)) log(`  ${r.method} FAIL ${f}`);
    log(`background load just before each run (cores busy): ${results.map((r) => `${r.method} ${r.background.toFixed(2)}`).join(', ')}`);
    for (const r of results) {
      if (r.disturbed.length) log(`  WARNING ${r.method}: other test/browser processes ran during this measurement, e.g. ${r.disturbed[0]}`);
    }
    log('');
    const raw = byMethod('raw');
    const raw1 = byMethod('raw1');
    const ansible = byMethod('ansible');
    if (ferry && raw) log(`Ferry/raw ratio:      ${(ferry.wallMs / raw.wallMs).toFixed(2)}  (${secs(ferry.wallMs)} / ${secs(raw.wallMs)})`);
    if (ferry && raw1) log(`Ferry/raw1 ratio:     ${(ferry.wallMs / raw1.wallMs).toFixed(2)}  (raw1 = one pre-built tar.gz streamed to every host)`);
    if (ferry && ansible) log(`Ferry/Ansible ratio:  ${(ferry.wallMs / ansible.wallMs).toFixed(2)}  (${secs(ferry.wallMs)} / ${secs(ansible.wallMs)})`);
    const fr = ferryRun as FerryRun | null;
    if (fr && ferry) {
      const pkg = fr.packageBytes ?? pkgBytes;
      const relayed = targets.filter((x) => x.relayed).length;
      log(`Ferry server peak RSS: VmHWM ${mib(fr.hwmAfter)} (whole process life); sampled peak during publish ${mib(fr.rssPeakSampled)}; RSS before publish ${mib(fr.rssBefore)}` +
        ' (svn child processes not included)');
      log(`Ferry -> relay bytes: ${mib(ferry.relayUp)} sent (${ferry.relayUp} B), ${mib(ferry.relayDown)} received, over ${ferry.relayConnections} TCP connection(s); ` +
        `package ${mib(pkg)} -> ${(ferry.relayUp / pkg).toFixed(2)}x the package for ${relayed} relayed host(s)`);
      if (ferry.ferryCpu) {
        log(`Ferry server process CPU during publish: ${ferry.ferryCpu.self.toFixed(1)} s own (${((ferry.ferryCpu.self * 1000) / ferry.wallMs * 100).toFixed(0)}% of one core over the wall time)` +
          ` + ${ferry.ferryCpu.children.toFixed(1)} s in waited-for children (svn export); machine total ${ferry.machineCpu.toFixed(1)} s of ${((ferry.wallMs / 1000) * os.cpus().length).toFixed(1)} s available`);
      }
      log(`Ferry job status: ${fr.status}${fr.hosts.filter((h) => h.status !== 'succeeded').map((h) => `; ${h.host}: ${h.error}`).join('')}`);
      log('Ferry breakdown (times from the POST request):');
      log(ferryBreakdown(fr, targets));
    }
    log('');
    if (KEEP) log(`kept work dir ${work}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => step(`cleanup: ${String(err)}`));
    if (!KEEP) await rm(work, { recursive: true, force: true });
  }
}

runBench('bench:publish', main);
