// Ferry as users run it: its own server process (started as `npm start` starts it), configured through the bulk
// import API, publishing through POST /api/projects/:name/publish and followed on the job's SSE stream to its end.
// Each case gets a fresh server, so its memory does not depend on the cases before it.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createDb } from '../../../src/lib/db.ts';
import { createLogger } from '../../../src/lib/logger.ts';
import { createToken } from '../../../src/services/users.ts';
import { cliActor } from '../../../src/services/context.ts';
import type { SvnServer } from '../../../test/kit/svnserve.ts';
import { HttpClient, now, processCpuSeconds, readSse, startFerryServer, type FerryServer, type SseEvent } from '../common.ts';
import type { Fleet } from './fleet.ts';
import type { Payload } from './payloads.ts';
import type { BenchCase } from './scenarios.ts';

export interface FerryBench {
  server: FerryServer;
  api: HttpClient;
  stop(): Promise<void>;
}

export interface FerryRun {
  wallMs: number;
  status: string;
  /** Hosts that did not succeed, with Ferry's error. */
  failedHosts: string[];
  events: SseEvent[];
  postMs: number;
  t0: number;
  /** Peak RSS during the publish: VmHWM after resetting it just before (exact), else the highest VmRSS sampled. */
  peakRss: number;
  peakRssExact: boolean;
  rssBefore: number;
  /** RSS right after the job's end event. */
  rssAfter: number;
  /** CPU seconds of the server process, and of the children it waited for (svn). */
  cpu: { self: number; children: number };
  exportDoneAt: number | null;
  packageReadyAt: number | null;
  packageBytes: number | null;
}

/** Starts Ferry and imports the relay, the case's targets, and the case's project (its hosts as group "targets"). */
export async function startFerry(work: string, fleet: Fleet, svn: SvnServer, benchCase: BenchCase, payload: Payload): Promise<FerryBench> {
  const dataDir = path.join(work, `ferry-${benchCase.id}`);
  const server = await startFerryServer({
    dataDir, secretKeyHex: randomBytes(32).toString('hex'), adminPassword: 'bench-admin-password', logFile: path.join(work, `ferry-${benchCase.id}.log`),
  });
  try {
    // The token is made the way `npm run ferry -- token create` makes it: straight in the server's database.
    const db = createDb(path.join(dataDir, 'ferry.db'));
    const token = await createToken({ db, logger: createLogger({ level: 'silent' }), secretKey: Buffer.alloc(32) }, { actor: cliActor(), ip: 'cli' }, 'admin', 'bench');
    await db.$disconnect();
    const api = new HttpClient(server.url, token);
    const { relay, relayProxy, user } = fleet;
    const targets = fleet.targets.slice(0, benchCase.hosts);
    const imported = await api.request('POST', '/api/import', {
      json: {
        credentials: [relay, ...targets].map((h) => ({ name: `${h.name}-key`, username: user, privateKey: h.sshd.clientKey })),
        hosts: [
          { name: 'relay', address: '127.0.0.1', port: relayProxy.port, credential: 'relay-key', hostKey: relay.sshd.hostKey },
          ...targets.map((t) => ({
            name: t.name, address: '127.0.0.1', port: t.sshd.port, credential: `${t.name}-key`, hostKey: t.sshd.hostKey,
            deployDir: t.sshd.dir, ...(t.relayed ? { jump: 'relay' } : {}),
          })),
        ],
        projects: [{
          name: benchCase.id, svnUrl: `${svn.url}/${payload.svnPath}`, svnUsername: svn.username, svnPassword: svn.password,
          deployDir: '/srv/unused', keepSnapshots: 5, concurrency: benchCase.concurrency, groups: { targets: targets.map((t) => t.name) },
        }],
      },
    });
    if (imported.status !== 201) throw new Error(`import failed: HTTP ${imported.status} ${imported.text}`);
    return { server, api, stop: () => server.stop() };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Resets the kernel's RSS high-water mark of a process (Linux >= 4.0, needs write access to its clear_refs). */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** One publish of `selection` in project `project`, from the POST to the job's end event. */
export async function publishWithFerry(ferry: FerryBench, project: string, selection: string[]): Promise<FerryRun> {
  const { server, api } = ferry;
  const rssBefore = server.memory().rss;
  const logsBefore = server.logs.length;
  const exact = resetPeakRss(server.pid);
  const stopSampling = server.sampleRss(25);
  const cpu0 = processCpuSeconds(server.pid);
  const t0 = now();
  // Each run puts an older version of the files on the targets behind Ferry's back (payloads.ts prepare): to Ferry,
  // whose record says it put the newer one there, those are hand edits, which it must be told to overwrite.
  const post = await api.request('POST', `/api/projects/${project}/publish`, { json: { files: selection, groups: ['targets'], note: 'bench', overwriteDrift: true } });
  const postMs = now() - t0;
  if (post.status !== 201) throw new Error(`publish refused: HTTP ${post.status} ${post.text}`);
  const jobId = (JSON.parse(post.text) as { jobId: number }).jobId;
  const events: SseEvent[] = [];
  let end: SseEvent | undefined;
  await readSse(`${api.base}/api/jobs/${jobId}/events`, api.headers(), (e) => {
    events.push(e);
    if (e.event === 'end') end = e;
  });
  const wallMs = (end?.at ?? now()) - t0;
  const sampled = stopSampling();
  const rssAfter = server.memory().rss;
  const cpu1 = processCpuSeconds(server.pid);
  const job = (end?.data ?? {}) as { status?: string; hosts?: { host: string; status: string; error: string | null }[] };
  const newLogs = server.logs.slice(logsBefore);
  const logTime = (msg: string) => {
    const line = newLogs.find((l) => l.msg === msg && (l.jobId === undefined || l.jobId === jobId));
    return line ? line.time - performance.timeOrigin : null;
  };
  const packReady = newLogs.find((l) => l.msg === 'package ready' && l.jobId === jobId);
  return {
    wallMs, status: job.status ?? 'unknown', events, postMs, t0, rssBefore, rssAfter,
    failedHosts: (job.hosts ?? []).filter((h) => h.status !== 'succeeded').map((h) => `${h.host}: ${h.status} ${h.error ?? ''}`.trim()),
    peakRss: exact ? Math.max(server.memory().hwm, sampled) : sampled, peakRssExact: exact,
    cpu: { self: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children },
    exportDoneAt: logTime('svn export done'), packageReadyAt: logTime('package ready'),
    packageBytes: typeof packReady?.bytes === 'number' ? packReady.bytes : null,
  };
}
