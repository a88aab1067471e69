// Where a Ferry publish spent its time (--breakdown): the server's log marks (export, package) and, per host class,
// the time between consecutive phases of the job's SSE progress events.
import { median, mib, secs, table } from '../common.ts';
import type { FerryRun } from './ferry.ts';
import type { Target } from './fleet.ts';

/** Each host's phases in order of first appearance, with the SSE arrival time. */
function phasesByHost(r: FerryRun): Map<string, { phase: string; at: number }[]> {
  const phasesOf = new Map<string, { phase: string; at: number }[]>();
  for (const e of r.events) {
    if (e.event !== 'progress') continue;
    const ev = e.data as { type: string; host?: string; phase?: string; snapshotTaken?: boolean };
    if (ev.type !== 'host' || !ev.host || !ev.phase) continue;
    // The engine repeats 'snapshot' with snapshotTaken once the snapshot is on the target.
    const phase = ev.phase === 'snapshot' && ev.snapshotTaken ? 'snapshot-taken' : ev.phase;
    const list = phasesOf.get(ev.host) ?? [];
    if (!list.some((p) => p.phase === phase)) list.push({ phase, at: e.at });
    phasesOf.set(ev.host, list);
  }
  return phasesOf;
}

export function ferryBreakdown(r: FerryRun, targets: Target[]): string {
  const rel = (t: number | null) => (t === null ? NaN : t - r.t0);
  const phasesOf = phasesByHost(r);
  const firstEvent = Math.min(...[...phasesOf.values()].map((l) => l[0]?.at ?? Infinity));
  const lastDone = Math.max(...[...phasesOf.values()].map((l) => l.find((p) => p.phase === 'done')?.at ?? -Infinity));
  const lines = [
    'Ferry breakdown of the last run (times from the POST request):',
    `  POST /publish answered (job created)  ${secs(r.postMs)}`,
    `  svn export done (server log)          at ${secs(rel(r.exportDoneAt))}`,
    `  package ready (server log)            at ${secs(rel(r.packageReadyAt))}${r.packageBytes !== null ? ` (${mib(r.packageBytes)})` : ''}`,
    `  first host event                      at ${secs(firstEvent - r.t0)}`,
    `  last host done                        at ${secs(lastDone - r.t0)}`,
    `  job end event (SSE)                   at ${secs(r.wallMs)}`,
  ];
  const rows: string[][] = [];
  for (const relayed of [false, true]) {
    const steps = new Map<string, number[]>();
    for (const t of targets.filter((x) => x.relayed === relayed)) {
      const list = phasesOf.get(t.name) ?? [];
      for (let i = 0; i + 1 < list.length; i++) {
        const key = `${list[i].phase} -> ${list[i + 1].phase}`;
        steps.set(key, [...(steps.get(key) ?? []), list[i + 1].at - list[i].at]);
      }
    }
    for (const [key, durations] of steps) rows.push([relayed ? 'via relay' : 'direct', key, secs(median(durations)), secs(Math.max(...durations)), String(durations.length)]);
  }
  lines.push('  per-host phases, from SSE progress events:');
  lines.push(table(['hosts', 'phase', 'median', 'max', 'n'], rows).split('\n').map((l) => `    ${l}`).join('\n'));
  return lines.join('\n');
}
