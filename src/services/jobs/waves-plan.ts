// Publishing in waves, the plan: the `waves` settings of a publish request checked, the hosts cut into waves (by the
// order of the chosen groups, or in batches), and the plan + progress kept as JSON in Job.waves.
import { WAVES } from '../../config.ts';
import { badRequest, FerryError } from '../../lib/errors.ts';
import { fill, tk, type MessageParams } from '../../lib/messages.ts';
import type { Services } from '../context.ts';
import { isActiveStatus } from './status.ts';
import type { ProjectFull } from './store.ts';

export interface WaveSettings {
  by: 'group' | 'batch';
  batchSize?: number;
  /** The project's process restarted on each wave's hosts; its status must then pass on all of them. */
  restart?: string;
  statusTimeoutSeconds: number;
  pauseSeconds: number;
  /** After each wave but the last: wait for someone to click Continue. */
  manual: boolean;
}

/**
 * pending: not started; publishing; checking: the restart + status gate; pausing: a timed pause before it starts;
 * waiting: waits for Continue before it starts; done; failed: the job stopped here; skipped: never started.
 */
export type WaveStatus = 'pending' | 'publishing' | 'checking' | 'pausing' | 'waiting' | 'done' | 'failed' | 'skipped';

export interface Wave {
  label: string;
  hosts: string[];
  status: WaveStatus;
  /** In the operator's words: why it failed, until when it pauses. */
  message?: string;
}

/** What Job.waves holds. */
export interface WavesState extends WaveSettings {
  waves: Wave[];
  /** This job publishes the waves a stopped job did not reach ("continue anyway"). */
  continuesJobId?: number;
  /** The job that continued this one, once someone clicked "Continue anyway". */
  continuedByJobId?: number;
}

/** The waves of a publish about to be created, with host ids; labels and order are final. */
export interface PlannedWaves {
  settings: WaveSettings;
  waves: { label: string; hosts: { id: number; name: string }[] }[];
  continuesJobId?: number;
}

const SETTING_NAMES = ['by', 'batchSize', 'restart', 'statusTimeoutSeconds', 'pauseSeconds', 'manual'];

const present = (v: unknown) => v !== undefined && v !== null && v !== '';

/** `words` names the setting as a message key ("The batch size"), translated before it is filled in. */
function wholeNumber(value: unknown, field: string, min: number, max: number, words: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new FerryError('invalid', tk('{{setting}} must be a whole number from {{min}} to {{max}}.'), {
      params: { setting: words, min, max }, keyParams: ['setting'], fields: { [`waves.${field}`]: `must be ${min}-${max}` },
    });
  }
  return n;
}

/** Checks the `waves` of a publish request; null when the publish goes to every host at once. */
export function waveSettings(project: ProjectFull, value: unknown, chosenHosts: { id: number }[]): WaveSettings | null {
  if (value === undefined || value === null || value === false) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest('"waves" must be an object, for example { "by": "group" }.', { waves: 'must be an object' });
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!SETTING_NAMES.includes(key)) throw new FerryError('invalid', tk('Unknown wave setting "{{key}}". Known settings: {{known}}.'), { params: { key, known: SETTING_NAMES.join(', ') }, fields: { [`waves.${key}`]: 'unknown setting' } });
  }
  if (input.by !== 'group' && input.by !== 'batch') {
    throw badRequest('Waves go "by": "group" (one wave per chosen group, in the order given) or "by": "batch" (batches of batchSize hosts).', { 'waves.by': 'must be "group" or "batch"' });
  }
  const settings: WaveSettings = { by: input.by, statusTimeoutSeconds: WAVES.statusTimeoutSeconds, pauseSeconds: 0, manual: false };
  if (input.by === 'batch') {
    if (!present(input.batchSize)) throw badRequest('Waves in batches need a batch size: how many hosts each wave publishes to.', { 'waves.batchSize': 'required' });
    settings.batchSize = wholeNumber(input.batchSize, 'batchSize', 1, 100_000, tk('The batch size'));
  } else if (present(input.batchSize)) {
    throw badRequest('A batch size is only used with waves "by": "batch".', { 'waves.batchSize': 'only with by "batch"' });
  }
  if (present(input.restart)) {
    if (typeof input.restart !== 'string') throw badRequest('"restart" must be the name of one of the project\'s processes.', { 'waves.restart': 'must be a process name' });
    const process = project.processes.find((p) => p.name === input.restart);
    if (!process) {
      throw new FerryError('invalid', tk('Project "{{project}}" has no process "{{process}}" to restart between waves.'), {
        params: { project: project.name, process: input.restart }, fields: { 'waves.restart': `unknown process "${input.restart}"` },
      });
    }
    const runsIt = new Set(process.groups.flatMap((g) => g.hosts.map((h) => h.id)));
    if (!chosenHosts.some((h) => runsIt.has(h.id))) {
      throw new FerryError('invalid', tk('Process "{{process}}" does not run on any of the chosen hosts, so it cannot be checked between waves.'), {
        params: { process: process.name }, fields: { 'waves.restart': 'runs on none of the chosen hosts' },
      });
    }
    settings.restart = process.name;
  }
  if (present(input.statusTimeoutSeconds)) {
    if (!settings.restart) throw badRequest('A status timeout needs a process to restart and check between waves ("restart").', { 'waves.statusTimeoutSeconds': 'needs "restart"' });
    settings.statusTimeoutSeconds = wholeNumber(input.statusTimeoutSeconds, 'statusTimeoutSeconds', 1, WAVES.maxStatusTimeoutSeconds, tk('The status timeout (seconds)'));
  }
  if (present(input.pauseSeconds)) settings.pauseSeconds = wholeNumber(input.pauseSeconds, 'pauseSeconds', 0, WAVES.maxPauseSeconds, tk('The pause between waves (seconds)'));
  if (present(input.manual)) {
    if (typeof input.manual !== 'boolean') throw badRequest('"manual" must be true or false.', { 'waves.manual': 'must be a boolean' });
    settings.manual = input.manual;
  }
  return settings;
}

/**
 * Cuts the chosen hosts into waves. By group: one wave per chosen group in the order given (a host in two groups goes
 * with the first), then one wave of the hosts chosen by name outside those groups. By batch: batches in name order.
 */
export function planWaves(project: ProjectFull, settings: WaveSettings, hosts: { id: number; name: string }[], groupNames: string[]): PlannedWaves {
  const waves: PlannedWaves['waves'] = [];
  if (settings.by === 'batch') {
    const size = settings.batchSize!;
    for (let i = 0; i < hosts.length; i += size) waves.push({ label: `batch ${waves.length + 1}`, hosts: hosts.slice(i, i + size) });
    return { settings, waves };
  }
  if (groupNames.length === 0) {
    throw badRequest('Publishing in waves by group needs the groups, in the order the waves should go ("groups": ["zone1", "zone2"]).', { groups: 'required for waves by group' });
  }
  const placed = new Set<number>();
  for (const name of groupNames) {
    const ids = new Set(project.groups.find((g) => g.name === name)!.hosts.map((h) => h.id));
    const inWave = hosts.filter((h) => ids.has(h.id) && !placed.has(h.id));
    for (const h of inWave) placed.add(h.id);
    if (inWave.length) waves.push({ label: name, hosts: inWave });
  }
  const others = hosts.filter((h) => !placed.has(h.id));
  if (others.length) waves.push({ label: 'hosts chosen by name', hosts: others });
  return { settings, waves };
}

/** The first state of a planned publish, as stored in Job.waves. */
export function initialState(plan: PlannedWaves): WavesState {
  return {
    ...plan.settings, ...(plan.continuesJobId ? { continuesJobId: plan.continuesJobId } : {}),
    waves: plan.waves.map((w) => ({ label: w.label, hosts: w.hosts.map((h) => h.name), status: 'pending' as const })),
  };
}

export function parseWaves(json: string): WavesState | null {
  return json ? (JSON.parse(json) as WavesState) : null;
}

/** Stores the plan on a new job: Job.waves and each JobHost's wave number. */
export async function saveWavePlan(svc: Services, jobId: number, plan: PlannedWaves): Promise<void> {
  await svc.db.$transaction([
    svc.db.job.update({ where: { id: jobId }, data: { waves: JSON.stringify(initialState(plan)) } }),
    ...plan.waves.map((w, i) => svc.db.jobHost.updateMany({
      where: { jobId, hostId: { in: w.hosts.map((h) => h.id) } }, data: { wave: i, ...(i > 0 ? { phase: `waits for wave ${i + 1}` } : {}) },
    })),
  ]);
}

/**
 * Start-up, for a publish in waves a crash (or a restart while it paused) left unfinished: hosts whose wave never
 * started were never touched, so they are marked skipped (Continue anyway can publish them) and so are their waves.
 */
export async function skipUnstartedWaves(svc: Services, job: { id: number; waves: string }): Promise<void> {
  const state = parseWaves(job.waves);
  if (!state) return;
  const error = 'skipped: Ferry stopped before this host\'s wave started; the host was not touched';
  await svc.db.jobHost.updateMany({ where: { jobId: job.id, status: 'queued' }, data: { status: 'skipped', phase: 'skipped', error, finishedAt: new Date() } });
  for (const w of state.waves) {
    if (w.status === 'pending' || w.status === 'pausing' || w.status === 'waiting') Object.assign(w, { status: 'skipped', message: 'Ferry stopped before this wave started.' });
    else if (w.status === 'publishing' || w.status === 'checking') Object.assign(w, { status: 'failed', message: 'Ferry stopped during this wave.' });
  }
  await svc.db.job.update({ where: { id: job.id }, data: { waves: JSON.stringify(state) } });
}

/** How the job page shows each wave status: the words, and the job status whose badge colour it borrows. */
export const WAVE_STATUS_VIEW: Record<WaveStatus, { words: string; badge: string }> = {
  pending: { words: tk('not started'), badge: 'queued' },
  publishing: { words: tk('publishing'), badge: 'running' },
  checking: { words: tk('restarting and checking status'), badge: 'running' },
  pausing: { words: tk('pausing'), badge: 'paused' },
  waiting: { words: tk('waiting for Continue'), badge: 'paused' },
  done: { words: tk('done'), badge: 'succeeded' },
  failed: { words: tk('failed'), badge: 'failed' },
  skipped: { words: tk('not started'), badge: 'queued' },
};

/**
 * The settings in one sentence, for the job page; in English (records) unless `t`, the request's translator, and its
 * language `lng` are given.
 */
export function describeWaveSettings(s: WaveSettings, t: (key: string, params?: MessageParams) => string = fill, lng = 'en'): string {
  const parts = [s.by === 'group' ? t(tk('One wave per group, in the order chosen.')) : t(tk('Batches of {{size}} host(s).'), { size: s.batchSize ?? '' })];
  if (s.restart) {
    parts.push(t(tk('After each wave: restart {{process}} and wait up to {{seconds}} s for its status check to pass on every host.'), { process: s.restart, seconds: s.statusTimeoutSeconds }));
  }
  if (s.pauseSeconds) parts.push(t(tk('Pause {{seconds}} s before the next wave.'), { seconds: s.pauseSeconds }));
  if (s.manual) parts.push(t(tk('Wait for someone to click Continue before the next wave.')));
  // Chinese sentences follow each other without a space.
  return parts.join(lng.startsWith('zh') ? '' : ' ');
}

/**
 * What Continue would do now: "continue" lets a job waiting between waves go on; "anyway" starts the waves a stopped
 * job did not reach. null: nothing to continue. The job page's script (public/js/lib/waves.js) decides the same way.
 */
export function continueOffer(job: { status: string; waves: WavesState | null; hosts: { status: string }[] }): 'continue' | 'anyway' | null {
  if (!job.waves) return null;
  if (isActiveStatus(job.status)) return job.waves.waves.some((w) => w.status === 'waiting' || w.status === 'pausing') ? 'continue' : null;
  return !job.waves.continuedByJobId && job.hosts.some((h) => h.status === 'skipped') ? 'anyway' : null;
}
