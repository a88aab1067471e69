// One measured run of one method: clean targets, a quiet machine, then wall time, machine CPU, what each host's sshd
// and login shell saw, the bytes over the relay link, and a check that every target holds the payload.
import { foreignWorkload, machineCpuSeconds, now, waitForQuiet } from '../common.ts';
import { cleanTargets, type Fleet, type Host } from './fleet.ts';
import type { FerryRun } from './ferry.ts';
import { takeShellStarts } from './login-shell.ts';
import type { Payload } from './payloads.ts';
import type { BenchCase, Method } from './scenarios.ts';
import { LogMarks, type SessionCounts } from './sshd-log.ts';

export interface HostCost extends SessionCounts {
  /** Login shells that read .bashrc, and their CPU; null with --clean-home. */
  shells: number | null;
  shellCpuMs: number | null;
}

export interface TargetCost extends HostCost {
  name: string;
  relayed: boolean;
}

export interface Measurement {
  caseId: string;
  method: Method;
  run: number;
  wallMs: number;
  failures: string[];
  /** Busy CPU seconds of the whole machine during the run (every process, all cores). */
  machineCpu: number;
  /** Cores busy just before the run, and other test runners seen during it. */
  background: number;
  disturbed: string[];
  targets: TargetCost[];
  relay: HostCost;
  relayBytesUp: number;
  relayConnections: number;
  ferry?: FerryRun;
  note: string;
}

export type MethodBody = () => Promise<{ note: string; ferry?: FerryRun }>;

export interface MeasureSettings {
  /** The targets have login files recording their shell starts. */
  loginFiles: boolean;
  /** How long to wait for a quiet machine before each run; then it runs anyway and the report shows the load. */
  quietWaitMs: number;
}

const ATTEMPTS = 3;
/** Fewer busy cores than this (and no test runner) is a quiet machine. */
const QUIET_CORES = 0.3;

/**
 * Measures once, on a quiet machine if one comes within the wait. A run that started quiet and was then disturbed by
 * a test runner or browser is measured again (3 tries); on a machine that never got quiet, retrying would not help.
 */
export async function measure(fleet: Fleet, settings: MeasureSettings, c: BenchCase, payload: Payload, method: Method, run: number, body: MethodBody): Promise<Measurement> {
  const label = `${c.id} ${method} run ${run}`;
  for (let attempt = 1; ; attempt++) {
    const m = await measureOnce(fleet, settings, c, payload, method, run, label, body);
    if (m.disturbed.length === 0 || m.background >= QUIET_CORES || attempt === ATTEMPTS) return m;
    process.stderr.write(`[bench] ${label}: another test runner ran meanwhile (${m.disturbed[0]}), measuring again\n`);
  }
}

async function measureOnce(fleet: Fleet, settings: MeasureSettings, c: BenchCase, payload: Payload, method: Method, run: number, label: string, body: MethodBody): Promise<Measurement> {
  const targets = fleet.targets.slice(0, c.hosts);
  await cleanTargets(targets);
  await Promise.all(targets.map((t) => payload.prepare(t.sshd.dir)));
  const hosts: Host[] = [fleet.relay, ...targets];
  await Promise.all(hosts.map((h) => takeShellStarts(h.home)));
  const background = await waitForQuiet(label, { sampleMs: 1000, threshold: QUIET_CORES, maxWaitMs: settings.quietWaitMs });
  fleet.relayProxy.resetBytes();
  const marks = new LogMarks(hosts.map((h) => h.sshd));
  process.stderr.write(`[bench] ${label}\n`);
  const disturbed = new Set<string>();
  const watch = setInterval(() => foreignWorkload().forEach((p) => disturbed.add(p)), 1000);
  const cpu0 = machineCpuSeconds();
  const t0 = now();
  const outcome = await body().finally(() => clearInterval(watch));
  const wallMs = outcome.ferry?.wallMs ?? now() - t0;
  const machineCpu = machineCpuSeconds() - cpu0;
  const sessions = marks.counts();
  const shells = await Promise.all(hosts.map((h) => takeShellStarts(h.home)));
  const costs: HostCost[] = hosts.map((_, i) => ({
    ...sessions[i], shells: settings.loginFiles ? shells[i].count : null, shellCpuMs: settings.loginFiles ? shells[i].cpuMs : null,
  }));
  const { up, connections } = fleet.relayProxy.bytes();
  const failures: string[] = [];
  for (const t of targets) {
    const problem = await payload.verify(t.sshd.dir);
    if (problem) failures.push(`${t.name}: ${problem}`);
  }
  for (const failed of outcome.ferry?.failedHosts ?? []) failures.push(`Ferry: ${failed}`);
  return {
    caseId: c.id, method, run, wallMs, failures, machineCpu, background, disturbed: [...disturbed],
    targets: targets.map((t, i) => ({ name: t.name, relayed: t.relayed, ...costs[i + 1] })), relay: costs[0],
    relayBytesUp: up, relayConnections: connections, ferry: outcome.ferry, note: outcome.note,
  };
}
