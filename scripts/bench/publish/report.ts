// The report: per case, each method's median and min–max wall time, its ratio to the ssh loop, what it cost each
// target (logins, commands, SFTP sessions, login shells) and the relay, Ferry's peak RSS, PASS/FAIL against the
// issue's targets; then one markdown table for the README.
import { median, mib, secs, table } from '../common.ts';
import type { Measurement, TargetCost } from './measure.ts';
import { relayedCount, type BenchCase, type Method } from './scenarios.ts';

export const METHOD_LABELS: Record<Method, string> = {
  ferry: 'Ferry (HTTP API publish)',
  loop: 'ssh loop (1 connection + 1 command per host)',
  ansible: 'Ansible (copy / unarchive, forks = hosts)',
};

const wallTimes = (ms: Measurement[]) => ms.map((m) => m.wallMs);
const spread = (values: number[]) => `${secs(Math.min(...values))}–${secs(Math.max(...values))}`;
const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** Mean per target, and the range when targets or runs differ: "1", "2.5 (2–3)". */
function perTarget(values: number[]): string {
  if (values.length === 0) return '-';
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return lo === hi ? fmt(lo) : `${fmt(mean)} (${lo}–${hi})`;
}

/** Direct and relayed targets apart when the case has both: "1 / 2". */
function byClass(ms: Measurement[], pick: (t: TargetCost) => number | null): string {
  const all = ms.flatMap((m) => m.targets);
  if (all.some((t) => pick(t) === null)) return '-';
  const of = (relayed: boolean) => all.filter((t) => t.relayed === relayed).map((t) => pick(t) as number);
  const direct = of(false);
  const relayed = of(true);
  if (relayed.length === 0) return perTarget(direct);
  return `${perTarget(direct)} / ${perTarget(relayed)}`;
}

/** What each method cost every target and the relay, per run. */
function sessionsTable(runs: [Method, Measurement[]][], withRelay: boolean): string {
  const per = withRelay ? ' (direct / relayed)' : '';
  return table(
    ['method', `logins/target${per}`, `commands/target${per}`, `sftp/target${per}`, `shells/target${per}`, 'CPU/shell',
      ...(withRelay ? ['relay: logins/cmds/sftp/shells', 'relay link MiB (conns)'] : [])],
    runs.map(([method, ms]) => [
      method, byClass(ms, (t) => t.logins), byClass(ms, (t) => t.commands), byClass(ms, (t) => t.sftp), byClass(ms, (t) => t.shells), shellCost(ms),
      ...(withRelay ? [relayShare(ms), `${mib(median(ms.map((m) => m.relayBytesUp)))} (${median(ms.map((m) => m.relayConnections))})`] : []),
    ]),
  );
}

function relayShare(ms: Measurement[]): string {
  const avg = (pick: (m: Measurement) => number | null) => {
    const values = ms.map(pick);
    return values.some((v) => v === null) ? '-' : fmt(Math.round(((values as number[]).reduce((a, b) => a + b, 0) / values.length) * 10) / 10);
  };
  return `${avg((m) => m.relay.logins)} / ${avg((m) => m.relay.commands)} / ${avg((m) => m.relay.sftp)} / ${avg((m) => m.relay.shells)}`;
}

function shellCost(ms: Measurement[]): string {
  const shells = ms.flatMap((m) => [m.relay, ...m.targets]).reduce((n, h) => n + (h.shells ?? 0), 0);
  const cpu = ms.flatMap((m) => [m.relay, ...m.targets]).reduce((n, h) => n + (h.shellCpuMs ?? 0), 0);
  return shells ? `${(cpu / shells).toFixed(0)} ms` : '-';
}

/** Every Ferry run: each target exactly one login and one remote command (an SFTP session counts as one). */
function oneSessionEach(ms: Measurement[]): boolean {
  return ms.every((m) => m.targets.every((t) => t.logins === 1 && t.commands + t.sftp === 1));
}

const peakRss = (ms: Measurement[]) => Math.max(...ms.map((m) => m.ferry?.peakRss ?? NaN));

export interface CaseSummary {
  benchCase: BenchCase;
  description: string;
  runs: Map<Method, Measurement[]>;
  checks: { name: string; pass: boolean; detail: string }[];
}

export function summarizeCase(benchCase: BenchCase, description: string, measurements: Measurement[]): CaseSummary {
  const runs = new Map<Method, Measurement[]>();
  for (const m of measurements) runs.set(m.method, [...(runs.get(m.method) ?? []), m]);
  const checks: CaseSummary['checks'] = [];
  const ferry = runs.get('ferry');
  const loop = runs.get('loop');
  if (ferry && loop && benchCase.maxRatio !== null) {
    const ratio = median(wallTimes(ferry)) / median(wallTimes(loop));
    checks.push({ name: `Ferry ≤ ${benchCase.maxRatio}× the ssh loop`, pass: ratio <= benchCase.maxRatio, detail: `${ratio.toFixed(2)}×` });
  }
  if (ferry) {
    checks.push({
      name: '1 login + 1 remote command per target', pass: oneSessionEach(ferry),
      detail: `logins ${byClass(ferry, (t) => t.logins)}, commands ${byClass(ferry, (t) => t.commands)}, sftp ${byClass(ferry, (t) => t.sftp)}`,
    });
    if (benchCase.maxRssBytes !== null) {
      const peak = peakRss(ferry);
      checks.push({ name: `Ferry peak RSS < ${mib(benchCase.maxRssBytes)} (200 MB)`, pass: peak < benchCase.maxRssBytes, detail: mib(peak) });
    }
  }
  const failed = measurements.filter((m) => m.failures.length > 0);
  if (failed.length) checks.push({ name: 'every target received the payload', pass: false, detail: `${failed.length} run(s) failed: ${failed[0].failures[0]}` });
  return { benchCase, description, runs, checks };
}

export function caseReport(s: CaseSummary): string {
  const c = s.benchCase;
  const relayed = relayedCount(c.hosts);
  const lines = [
    `## ${c.id}: ${c.hosts} host(s) (${c.hosts - relayed} direct, ${relayed} behind the relay), Ferry concurrency ${c.concurrency}`,
    `payload: ${s.description}`,
    '',
  ];
  const loop = s.runs.get('loop');
  lines.push(table(['method', 'median', 'min–max', '÷ loop', 'machine CPU s', 'peak RSS', 'verify'], [...s.runs].map(([method, ms]) => [
    method, secs(median(wallTimes(ms))), spread(wallTimes(ms)),
    loop ? `${(median(wallTimes(ms)) / median(wallTimes(loop))).toFixed(2)}×` : '-',
    median(ms.map((m) => m.machineCpu)).toFixed(1),
    method === 'ferry' ? mib(peakRss(ms)) : '-',
    ms.every((m) => m.failures.length === 0) ? `OK ${ms.length}×${c.hosts}` : `FAIL ${ms.filter((m) => m.failures.length).length} run(s)`,
  ])));
  lines.push('');
  lines.push(sessionsTable([...s.runs], relayed > 0));
  for (const ms of s.runs.values()) {
    for (const m of ms) {
      for (const f of m.failures.slice(0, 3)) lines.push(`  ${m.method} run ${m.run} FAIL ${f}`);
      if (m.disturbed.length) lines.push(`  WARNING ${m.method} run ${m.run}: other test/browser processes ran meanwhile, e.g. ${m.disturbed[0]}`);
      if (m.method !== 'ferry' && m.note !== 'all exit 0' && m.note !== 'rc 0') lines.push(`  ${m.method} run ${m.run}: ${m.note}`);
    }
  }
  const ferry = s.runs.get('ferry');
  if (ferry) {
    const f = ferry.map((m) => m.ferry!);
    lines.push(`Ferry server (fresh for this case, idle ${mib(f[0].rssBefore)} before the first publish): peak RSS per run ${f.map((r) => mib(r.peakRss)).join(', ')} ` +
      `(${f[0].peakRssExact ? 'VmHWM reset before each publish' : 'sampled VmRSS'}), RSS right after each publish ${f.map((r) => mib(r.rssAfter)).join(', ')}; ` +
      `CPU own ${median(f.map((r) => r.cpu.self)).toFixed(1)} s + svn ${median(f.map((r) => r.cpu.children)).toFixed(1)} s (median); ` +
      `job status ${[...new Set(f.map((r) => r.status))].join(', ')}`);
  }
  lines.push(`background load before each run (cores busy): ${[...s.runs.values()].flat().map((m) => m.background.toFixed(2)).join(' ')}`);
  for (const check of s.checks) lines.push(`${check.pass ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`);
  return lines.join('\n');
}

const mdTime = (ms: Measurement[] | undefined) =>
  ms ? `${secs(median(wallTimes(ms)))} (${spread(wallTimes(ms))})` : 'not run';

/** The README table: one row per case. */
export function markdownTable(summaries: CaseSummary[]): string {
  const rows = summaries.map((s) => {
    const c = s.benchCase;
    const ferry = s.runs.get('ferry');
    const loop = s.runs.get('loop');
    const ansible = s.runs.get('ansible');
    const ratio = (other: Measurement[] | undefined) => (ferry && other ? `${(median(wallTimes(ferry)) / median(wallTimes(other))).toFixed(2)}×` : '–');
    const timeCheck = s.checks.find((k) => k.name.startsWith('Ferry ≤'));
    const sessions = ferry ? `${byClass(ferry, (t) => t.logins)} · ${byClass(ferry, (t) => t.commands)} · ${byClass(ferry, (t) => t.sftp)}` : '–';
    return `| ${c.id} | ${c.hosts} (${relayedCount(c.hosts)}) | ${mdTime(ferry)} | ${mdTime(loop)} | ${mdTime(ansible)} | ` +
      `${ratio(loop)}${timeCheck ? ` (≤ ${c.maxRatio}×: ${timeCheck.pass ? 'met' : '**not met**'})` : ''} | ${ratio(ansible)} | ${sessions} | ${ferry ? mib(peakRss(ferry)) : '–'} |`;
  });
  return [
    '| case | hosts (relayed) | Ferry | ssh loop | Ansible | Ferry ÷ loop (target) | Ferry ÷ Ansible | Ferry per target: logins · commands · sftp (direct / relayed) | Ferry peak RSS |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The README's second table: what each method cost every target (direct / relayed) and the relay, per publish. */
export function markdownSessions(summaries: CaseSummary[]): string {
  const rows = summaries.flatMap((s) => [...s.runs].map(([method, ms]) =>
    `| ${s.benchCase.id} | ${method} | ${byClass(ms, (t) => t.logins)} | ${byClass(ms, (t) => t.commands)} | ${byClass(ms, (t) => t.sftp)} | ` +
    `${byClass(ms, (t) => t.shells)} | ${relayedCount(s.benchCase.hosts) > 0 ? relayShare(ms) : '–'} |`));
  return [
    '| case | method | logins / target | commands / target | SFTP sessions / target | login shells / target | relay: logins / commands / sftp / shells |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
