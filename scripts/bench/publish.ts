// Publish benchmark (issue "2/5 Fast path"): Ferry's real HTTP API against the parallel ssh loop and Ansible, to local
// sshd targets whose login shells cost like real servers', in the scenarios users meet (one config file, a build, a
// 64-host fleet, one host). Prints medians, ratios, per-host logins/commands and Ferry's peak RSS; asserts nothing.
// Usage: see USAGE in publish/scenarios.ts, or `npm run bench:publish -- --help`.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startSvnServer, type SvnServer } from '../../test/kit/svnserve.ts';
import { machineFacts, now, programVersion, REPO_ROOT, runBench, secs, serverCommand, waitForQuiet } from './common.ts';
import { ansibleRun, ansibleVersion, sshLoop } from './publish/baselines.ts';
import { ferryBreakdown } from './publish/breakdown.ts';
import { publishWithFerry, startFerry, type FerryBench } from './publish/ferry.ts';
import { calibrateLoginShell, startFleet, type Fleet } from './publish/fleet.ts';
import { INITIAL_LOOPS } from './publish/login-shell.ts';
import { measure, type Measurement, type MeasureSettings, type MethodBody } from './publish/measure.ts';
import { preparePayloads, type Payload } from './publish/payloads.ts';
import { caseReport, markdownSessions, markdownTable, METHOD_LABELS, summarizeCase, type CaseSummary } from './publish/report.ts';
import { casesOf, parseOptions, relayedCount, type BenchCase, type BenchOptions, type Method, type PayloadKind } from './publish/scenarios.ts';

const log = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stderr.write(`[bench] ${text}\n`);

interface Rig {
  work: string;
  fleet: Fleet;
  svn: SvnServer;
  payloads: Map<PayloadKind, Payload>;
  /** The methods to run (Ansible only when installed). */
  methods: Method[];
  settings: MeasureSettings;
  /** Run on the way out, last first, even when interrupted. */
  cleanups: (() => Promise<unknown>)[];
}

function gitRevision(): string {
  const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim();
  const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { cwd: REPO_ROOT }).toString().trim();
  return `${rev}${dirty ? ' (+ uncommitted changes in src/)' : ''}`;
}

/** What one method does in one case's run. */
function methodBody(rig: Rig, ferryServer: FerryBench | null, c: BenchCase, payload: Payload, method: Method, run: number): MethodBody {
  const targets = rig.fleet.targets.slice(0, c.hosts);
  switch (method) {
    case 'ferry':
      return async () => {
        const ferry = await publishWithFerry(ferryServer!, c.id, payload.selection);
        return { note: `job ${ferry.status}`, ferry };
      };
    case 'loop':
      return () => sshLoop(rig.fleet, targets, payload);
    case 'ansible':
      return () => ansibleRun(rig.work, rig.fleet, targets, payload, run);
  }
}

/** Runs every method `runs` times, interleaved (ferry, loop, ansible, ferry, ...), so drift hits them alike. */
async function runCase(rig: Rig, c: BenchCase, runs: number, warmup: number): Promise<{ measurements: Measurement[]; warmups: Measurement[] }> {
  const payload = rig.payloads.get(c.payload)!;
  const ferry = rig.methods.includes('ferry') ? await startFerry(rig.work, rig.fleet, rig.svn, c, payload) : null;
  if (ferry) rig.cleanups.push(() => ferry.stop());
  try {
    const measurements: Measurement[] = [];
    const warmups: Measurement[] = [];
    for (let run = 1 - warmup; run <= 0; run++) {
      for (const method of rig.methods) {
        const m = await measure(rig.fleet, rig.settings, c, payload, method, run, methodBody(rig, ferry, c, payload, method, run));
        step(`${c.id} ${method} warm-up: ${secs(m.wallMs)}${m.failures.length ? ` FAILED ${m.failures[0]}` : ''}`);
        warmups.push(m);
      }
    }
    for (let run = 1; run <= runs; run++) {
      for (const method of rig.methods) {
        const m = await measure(rig.fleet, rig.settings, c, payload, method, run, methodBody(rig, ferry, c, payload, method, run));
        step(`${c.id} ${method} run ${run}: ${secs(m.wallMs)}${m.failures.length ? ` FAILED ${m.failures[0]}` : ''}`);
        measurements.push(m);
      }
    }
    return { measurements, warmups };
  } finally {
    await ferry?.stop();
  }
}

/** Starts everything the cases need (svnserve and payloads, the fleet and its login shells, Ferry) and prints the header. */
async function setUp(opts: BenchOptions, cases: BenchCase[], work: string, cleanups: (() => Promise<unknown>)[]): Promise<Rig> {
  log('# Ferry publish benchmark');
  log('');
  for (const fact of machineFacts()) log(`- ${fact}`);
  log(`- OpenSSH: ${programVersion('ssh', ['-V'])}; ${programVersion('bash', ['--version'])}`);

  step('starting svnserve');
  const svn = await startSvnServer({ users: { builder: 'bench-svn-pass' } });
  cleanups.push(() => svn.stop());
  const payloads = await preparePayloads([...new Set(cases.map((c) => c.payload))], svn, work,
    { buildMb: opts.buildMb, buildFiles: opts.buildFiles, hugeMb: opts.hugeMb }, step);

  const hosts = Math.max(...cases.map((c) => c.hosts));
  step(`starting ${hosts} target sshd + 1 relay sshd`);
  const fleet = await startFleet(work, hosts, opts.cleanHome ? null : INITIAL_LOOPS);
  cleanups.push(() => fleet.stop());
  if (opts.cleanHome) {
    log('- target login shell: clean HOME, no .bashrc (--clean-home)');
  } else {
    step(`calibrating the targets' login shell to ${opts.shellCostMs} ms of CPU`);
    await waitForQuiet('calibration', { sampleMs: 1000, maxWaitMs: opts.quietWaitS * 1000 });
    const shell = await calibrateLoginShell(fleet, INITIAL_LOOPS, opts.shellCostMs);
    log(`- target login shell: ~/.bashrc (also sourced by .profile/.bash_profile) burns ${shell.loops} bash loop iterations; ` +
      `${shell.shells} of ${shell.tries} \`ssh host true\` ran it, at ${shell.cpuMs.toFixed(0)} ms CPU per shell start (bash's own \`times\`); ` +
      `\`ssh host true\` takes ${secs(shell.sshTrueMs)} (median)`);
  }

  // Builds dist/ once, as `npm start` would; each case then starts its own server from it.
  const server = opts.methods.includes('ferry') ? serverCommand().label : null;
  const ansible = opts.methods.includes('ansible') ? await ansibleVersion() : null;
  const methods = opts.methods.filter((m) => m !== 'ansible' || ansible !== null);
  log(`- Ansible: ${ansible ?? (opts.methods.includes('ansible') ? 'ansible-playbook is not installed: skipped (apt-get install ansible-core)' : 'not run')}`);
  log(`- Ferry: git ${gitRevision()}${server ? `, a fresh server per case, started as "${server}"` : ', not run'}`);
  log(`- targets: up to ${hosts} sshd + 1 relay sshd on 127.0.0.1 (every 4th target behind the relay, reached through a byte-counting proxy), ` +
    'LogLevel VERBOSE, sftp subsystem /usr/lib/openssh/sftp-server (Debian\'s default: started through the login shell); ' +
    'targets are emptied before each run (each publish is a first publish)');
  log(`- methods: ${methods.map((m) => `${m} = ${METHOD_LABELS[m]}`).join('; ')}`);
  return { work, fleet, svn, payloads, methods, cleanups, settings: { loginFiles: !opts.cleanHome, quietWaitMs: opts.quietWaitS * 1000 } };
}

/** Measures every case, printing each one's report as it finishes; then the README tables and the checks. */
async function measureCases(rig: Rig, opts: BenchOptions, cases: BenchCase[]): Promise<void> {
  const summaries: CaseSummary[] = [];
  for (const c of cases) {
    const { measurements, warmups } = await runCase(rig, c, opts.runs, opts.warmup);
    const summary = summarizeCase(c, rig.payloads.get(c.payload)!.description, measurements);
    summaries.push(summary);
    log('');
    log(caseReport(summary));
    if (warmups.length > 0) {
      log(`warm-up, not counted (Ferry's first publish of the project checks out its working copy and packs; the counted runs ` +
        `reuse that package, as the loop reuses its tar.gz): ${warmups.map((m) => `${m.method} ${secs(m.wallMs)}`).join(', ')}`);
    }
    const lastFerry = measurements.filter((m) => m.ferry).at(-1)?.ferry;
    if (opts.breakdown && lastFerry) log(ferryBreakdown(lastFerry, rig.fleet.targets.slice(0, c.hosts)));
  }
  log('');
  log(`## Summary (median of ${opts.runs}, min–max in brackets; hosts behind the relay: ${cases.map((c) => `${c.id} ${relayedCount(c.hosts)}`).join(', ')})`);
  log('');
  log(markdownTable(summaries));
  log('');
  log('Per target, per publish (direct / relayed targets):');
  log('');
  log(markdownSessions(summaries));
  log('');
  for (const s of summaries) for (const check of s.checks) log(`${check.pass ? 'PASS' : 'FAIL'}  ${s.benchCase.id}: ${check.name}: ${check.detail}`);
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const cases = casesOf(opts);
  const started = now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-publish-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  // Ctrl-C or SIGTERM still stops the sshd, svnserve and Ferry processes and removes the work directory.
  const interrupted = new Promise<never>((_, reject) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => reject(new Error(`interrupted by ${signal}`)));
  });
  try {
    step(`work dir ${work}; cases ${cases.map((c) => c.id).join(', ')}; ${opts.runs} run(s) each`);
    const rig = await Promise.race([setUp(opts, cases, work, cleanups), interrupted]);
    log(`- setup ${secs(now() - started)}`);
    await Promise.race([measureCases(rig, opts, cases), interrupted]);
    log(`total ${secs(now() - started)}`);
    if (opts.keep) log(`kept work dir ${work}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => step(`cleanup: ${String(err)}`));
    if (!opts.keep) await rm(work, { recursive: true, force: true });
  }
}

runBench('bench:publish', main);
