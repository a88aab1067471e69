// Upload progress and the phase timeline against real sshd targets and svnserve: a 6 MB file is published to two
// direct hosts and one behind a relay (store-and-forward), with uploads held to 2 MB/s so they take a known time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp } from '../helpers/app.ts';
import { slowUploads } from '../helpers/slow-transport.ts';
import { createEngine } from '../../src/deploy/runner.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import type { JobEvent } from '../../src/deploy/types.ts';
import { runFile } from '../../src/lib/exec.ts';
import { pinHostKey } from '../../src/services/targets.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { PROGRESS_LIMITS } from '../../src/config.ts';

const BIG = crypto.randomBytes(6 * 1024 * 1024);
const RATE = 2 * 1024 * 1024;
type Progress = Extract<JobEvent, { type: 'progress' }>;

let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let token: string;
let server: http.Server;
/** What the engine emitted (with the time), and what the recorder passed on to live watchers (the SSE feed). */
const engineEvents: (JobEvent & { ms: number })[] = [];
const api = (url: string) => supertest(t.app).get(url).set('Authorization', `Bearer ${token}`);

/** Follows a job's Server-Sent Events as a browser does, until the `end` event. */
function followEvents(jobId: number) {
  const events: { event: string; data: { type?: string } & Record<string, unknown> }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const { port } = server.address() as AddressInfo;
    http.get({ host: '127.0.0.1', port, path: `/api/jobs/${jobId}/events`, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      });
      res.on('end', resolve);
      res.on('error', reject);
    }).on('error', reject);
  });
  return { events, done };
}

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b', 'c'], behindRelay: ['c'], files: { 'trunk/assets/big.pak': BIG, 'trunk/conf/app.ini': 'v1\n' } });
  t = await startTestApp({
    engine: (svc) => {
      const engine = createEngine({
        transport: slowUploads(createSshTransport(), RATE), runFile, logger: svc.logger, connectTimeoutMs: 5000, relayTunnelMaxBytes: 1,
        onNewHostKey: async (host, key) => void (await pinHostKey(svc, host, key)),
      });
      return { ...engine, publish: (req, emit) => engine.publish(req, (e) => {
        engineEvents.push({ ...e, ms: Date.now() });
        return emit(e);
      }) };
    },
  });
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  const imported = await supertest(t.app).post('/api/import').set('Authorization', `Bearer ${token}`)
    .send(fleet.importDoc({
      hostOverrides: { c: { relayMode: 'store-forward' } },
      processes: [{ name: 'zone', start: 'true', stop: 'true', status: 'true', groups: ['zone1'] }],
    }));
  expect(imported.status, JSON.stringify(imported.body)).toBe(201);
  server = t.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  server?.close();
  await fleet?.stop();
  await t?.cleanup();
});

describe('upload progress and timeline', () => {
  it('reports throttled, increasing byte counts per host up to the total, live and in the job JSON, then a timeline of ordered phases', async () => {
    const started = await supertest(t.app).post('/api/projects/game/publish').set('Authorization', `Bearer ${token}`).send({ files: ['assets', 'conf'], groups: ['zone1'] });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const jobId = started.body.jobId as number;
    const stream = followEvents(jobId);

    // A page loaded mid-upload: the job JSON carries each host's latest count.
    let midway: { host: string; upload: { sent: number; total: number; rate: number } | null }[] = [];
    const uploading = () => midway.some((h) => h.upload && h.upload.sent > 0 && h.upload.sent < h.upload.total && h.upload.rate > 0);
    for (let i = 0; i < 200 && !uploading(); i++) {
      midway = (await api(`/api/jobs/${jobId}`)).body.hosts;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(uploading(), JSON.stringify(midway)).toBe(true);

    await t.jobs!.idle();
    await stream.done;
    expect(stream.events[0].event).toBe('snapshot');
    expect(stream.events.at(-1)!.event).toBe('end');
    const watched = stream.events.filter((e) => e.event === 'progress' && e.data.type === 'progress').map((e) => e.data as unknown as Progress);
    const job = (await api(`/api/jobs/${jobId}`)).body;
    expect(job.status, JSON.stringify(job.hosts.map((h: { error: string }) => h.error))).toBe('succeeded');
    for (const name of ['a', 'b', 'c']) expect(fs.readFileSync(path.join(fleet.targets[name].dir, 'assets/big.pak')).equals(BIG)).toBe(true);

    const totals = new Set<number>();
    for (const host of ['a', 'b', 'c']) {
      const events = engineEvents.filter((e): e is Progress & { ms: number } => e.type === 'progress' && e.host === host);
      // 6 MB at 2 MB/s: about 3 s (longer on a busy machine), so about a dozen reports at 4 a second, never more.
      const tookMs = events.at(-1)!.ms - events[0].ms;
      expect(events.length, host).toBeGreaterThanOrEqual(4);
      expect(events.length, host).toBeLessThanOrEqual(Math.ceil(tookMs / PROGRESS_LIMITS.hostIntervalMs) + 2);
      for (let i = 1; i < events.length; i++) {
        expect(events[i].sent, host).toBeGreaterThan(events[i - 1].sent);
        // Timers may fire a little early; the final count is never held back.
        if (i < events.length - 1) expect(events[i].ms - events[i - 1].ms, host).toBeGreaterThanOrEqual(PROGRESS_LIMITS.hostIntervalMs - 20);
      }
      const last = events.at(-1)!;
      expect(last.sent, host).toBe(last.total);
      expect(last.total, host).toBeGreaterThan(BIG.length);
      // The rate shown is what went through: never above the throttle, and the bytes over the time the reports took
      // (the first report comes after the first read, so the rate may be a little higher than that).
      expect(last.rate, host).toBeLessThan(RATE * 1.5);
      expect(last.rate, host).toBeGreaterThan(((last.sent - events[0].sent) * 1000) / tookMs / 1.5);
      expect(last.rate, host).toBeLessThan(((last.sent - events[0].sent) * 1000) / tookMs * 1.5);
      totals.add(last.total);
      // The host behind the relay follows the relay's copy.
      expect(events.every((e) => e.relay === (host === 'c' ? 'relay' : undefined)), host).toBe(true);

      // The browser's stream got increasing counts ending at the total too (fewer or as many as the engine reported).
      const live = watched.filter((e) => e.host === host);
      expect(live.length, host).toBeGreaterThanOrEqual(2);
      expect(live.length, host).toBeLessThanOrEqual(events.length);
      expect(live.map((e) => e.sent), host).toEqual([...live.map((e) => e.sent)].sort((x, y) => x - y));
      expect(live.at(-1)!.sent, host).toBe(last.total);
    }
    expect(totals.size).toBe(1);

    const created = Date.parse(job.createdAt);
    const finished = Date.parse(job.finishedAt);
    const phasesOf = (host: string) => job.hosts.find((h: { host: string }) => h.host === host).timeline as { phase: string; at: number }[];
    const expected: Record<string, string[]> = {
      a: ['connecting', 'uploading', 'snapshot', 'extracting', 'done'],
      b: ['connecting', 'uploading', 'snapshot', 'extracting', 'done'],
      c: ['staging', 'relay-copy', 'verifying', 'snapshot', 'extracting', 'done'],
    };
    for (const [host, phases] of Object.entries(expected)) {
      const timeline = phasesOf(host);
      expect(timeline.map((e) => e.phase).filter((p) => phases.includes(p)), host).toEqual(phases);
      expect(timeline.at(-1)!.phase).toBe('done');
      for (let i = 1; i < timeline.length; i++) expect(timeline[i].at, host).toBeGreaterThanOrEqual(timeline[i - 1].at);
      expect(timeline[0].at, host).toBeGreaterThanOrEqual(created - 1000);
      expect(timeline.at(-1)!.at, host).toBeLessThanOrEqual(finished + 1000);
      // The slow part is where the bytes went: the upload (or the relay's staging) took most of the 3 s.
      const slowPhase = host === 'c' ? 'staging' : 'uploading';
      const k = timeline.findIndex((e) => e.phase === slowPhase);
      expect(timeline[k + 1].at - timeline[k].at, host).toBeGreaterThan(2000);
    }

    // Once the job is over its counts are not kept: the timeline is what remains.
    expect(job.hosts.every((h: { upload: unknown }) => h.upload === null)).toBe(true);
  }, 120_000);

  it('records the phases of a process job: connecting, the action, done', async () => {
    const started = await supertest(t.app).post('/api/projects/game/processes').set('Authorization', `Bearer ${token}`).send({ action: 'restart', groups: ['zone1'] });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    await t.jobs!.idle();
    const job = (await api(`/api/jobs/${started.body.jobId}`)).body;
    expect(job.status).toBe('succeeded');
    for (const host of job.hosts as { host: string; timeline: { phase: string; at: number }[] }[]) {
      expect(host.timeline.map((e) => e.phase), host.host).toEqual(['connecting', 'restart', 'done']);
      expect(host.timeline[2].at, host.host).toBeGreaterThanOrEqual(host.timeline[0].at);
    }
  }, 60_000);
});
