// How a publish request's hosts are cut into waves, and what Continue offers: pure functions, no database.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../../src/lib/errors.ts';
import type { ProjectFull } from '../../../../src/services/jobs/store.ts';
import { continueOffer, planWaves, waveSettings, type WavesState } from '../../../../src/services/jobs/waves-plan.ts';

const h = (id: number) => ({ id, name: `h${id}` });
const project = {
  name: 'game',
  groups: [{ name: 'zone1', hosts: [h(1), h(2)] }, { name: 'zone2', hosts: [h(2), h(3)] }, { name: 'zone3', hosts: [h(4)] }],
  processes: [{ name: 'app', groups: [{ hosts: [h(1), h(3)] }] }],
} as unknown as ProjectFull;
const all = [h(1), h(2), h(3), h(4), h(5)];

describe('planWaves', () => {
  it('makes one wave per group in the order given; a host in two groups goes with the first, hosts named alone go last', () => {
    const plan = planWaves(project, waveSettings(project, { by: 'group' }, all)!, all, ['zone2', 'zone1', 'zone3']);
    expect(plan.waves.map((w) => [w.label, w.hosts.map((x) => x.id)])).toEqual([['zone2', [2, 3]], ['zone1', [1]], ['zone3', [4]], ['hosts chosen by name', [5]]]);
  });

  it('cuts batches in the order of the hosts, the last one smaller', () => {
    const plan = planWaves(project, waveSettings(project, { by: 'batch', batchSize: '2' }, all)!, all, []);
    expect(plan.waves.map((w) => [w.label, w.hosts.map((x) => x.id)])).toEqual([['batch 1', [1, 2]], ['batch 2', [3, 4]], ['batch 3', [5]]]);
  });

  it('refuses waves by group without groups', () => {
    expect(() => planWaves(project, waveSettings(project, { by: 'group' }, all)!, all, [])).toThrow(/needs the groups/);
  });
});

describe('waveSettings', () => {
  it('is null when the publish is not in waves, and fills the defaults otherwise', () => {
    expect(waveSettings(project, undefined, all)).toBeNull();
    expect(waveSettings(project, { by: 'group', restart: 'app', manual: true }, all)).toEqual({ by: 'group', restart: 'app', statusTimeoutSeconds: 60, pauseSeconds: 0, manual: true });
  });

  it('refuses a process that runs on none of the chosen hosts, with a 400', () => {
    const err = (() => {
      try {
        waveSettings(project, { by: 'group', restart: 'app' }, [h(2), h(4)]);
      } catch (e) {
        return e as FerryError;
      }
    })();
    expect(err).toBeInstanceOf(FerryError);
    expect(err!.status).toBe(400);
    expect(err!.message).toBe('Process "app" does not run on any of the chosen hosts, so it cannot be checked between waves.');
  });
});

describe('continueOffer', () => {
  const waves = (statuses: string[], extra: Partial<WavesState> = {}) => ({
    by: 'group', statusTimeoutSeconds: 60, pauseSeconds: 0, manual: true, ...extra,
    waves: statuses.map((status, i) => ({ label: `w${i}`, hosts: [], status })),
  }) as WavesState;

  const cases: [Parameters<typeof continueOffer>[0], ReturnType<typeof continueOffer>][] = [
    [{ status: 'paused', waves: waves(['done', 'waiting']), hosts: [] }, 'continue'],
    [{ status: 'running', waves: waves(['done', 'pausing']), hosts: [] }, 'continue'],
    [{ status: 'running', waves: waves(['publishing', 'pending']), hosts: [] }, null],
    [{ status: 'partial', waves: waves(['failed', 'skipped']), hosts: [{ status: 'succeeded' }, { status: 'skipped' }] }, 'anyway'],
    [{ status: 'partial', waves: waves(['failed', 'skipped'], { continuedByJobId: 9 }), hosts: [{ status: 'skipped' }] }, null],
    [{ status: 'succeeded', waves: waves(['done', 'done']), hosts: [{ status: 'succeeded' }] }, null],
    [{ status: 'failed', waves: null, hosts: [{ status: 'skipped' }] }, null],
  ];

  it('offers Continue while a wave waits, Continue anyway after a stop with untouched hosts, and nothing otherwise', () => {
    for (const [job, offer] of cases) expect(continueOffer(job), JSON.stringify(job)).toBe(offer);
  });

  it('decides the same in the job page\'s script, which shows and relabels the button live', async () => {
    const browser = (await import(pathToFileURL(path.resolve(import.meta.dirname, '../../../../public/js/lib/waves.js')).href)) as {
      continueOffer: (job: object, waves: object | null) => string | null;
    };
    for (const [job, offer] of cases) expect(browser.continueOffer(job, job.waves), JSON.stringify(job)).toBe(offer);
  });
});
