// The Ferry server process is killed (SIGKILL) during a publish: after a restart the job is `interrupted`, every host's
// state is known, and rolling the job back restores every host it had touched.
import { REPO_ROOT } from '../kit/server-process.ts';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { freePort } from '../kit/svnserve.ts';
import { productionServerCommand } from '../kit/server-process.ts';
import { waitFor } from '../helpers/wait.ts';

let fleet: Fleet;
let dataDir: string;
let port: number;
let server: ChildProcess | null = null;
let token: string;
const env = () => ({ ...process.env, FERRY_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', FERRY_ADMIN_PASSWORD: 'first-admin-pw', LOG_LEVEL: 'warn' });

async function startServer() {
  // Started exactly as `npm start` starts it (compiled dist/, the start script's flags and environment).
  const command = productionServerCommand();
  server = spawn(process.execPath, command.args, { cwd: REPO_ROOT, env: { ...env(), ...command.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  await waitFor(() => fetch(`http://127.0.0.1:${port}/login`).then((res) => (res.ok ? true : undefined), () => undefined), 'the server to start', 20_000, 200);
}
interface JobJson { jobId: number; status: string; hosts: { host: string; status: string; phase: string }[] }
const api = async (method: string, url: string, body?: object): Promise<{ status: number; body: JobJson }> => {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as JobJson };
};

beforeAll(async () => {
  fleet = await startFleet({ targets: ['a', 'b'], files: { 'trunk/conf/app.ini': 'old\n', 'trunk/bin/tool': 'old tool\n' } });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-crash-'));
  port = await freePort();
  const importFile = path.join(dataDir, 'fleet.json');
  // after-publish on b hangs, so the kill lands while a is done and b is mid-release (files already extracted).
  fs.writeFileSync(importFile, JSON.stringify(fleet.importDoc({ hooks: [{ stage: 'after-publish', name: 'slow-on-b', script: 'if [ "$FERRY_HOST" = b ]; then sleep 30; fi' }] })));
  const cli = (args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', 'scripts/ferry.ts', ...args], { cwd: REPO_ROOT, env: env(), encoding: 'utf8' });
  cli(['import', importFile]);
  await startServer();
  token = cli(['token', 'create', 'admin']).trim();
}, 120_000);

afterAll(async () => {
  server?.kill('SIGKILL');
  await fleet?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('server killed mid-publish', () => {
  it('marks the job interrupted after restart, knows each host, and its rollback restores every touched host', async () => {
    // A first publish that the crashed one will overwrite.
    const first = await api('POST', '/api/projects/game/publish', { files: ['conf'], hosts: ['a'] });
    await waitFor(async () => ((await api('GET', `/api/jobs/${first.body.jobId}`)).body.status === 'succeeded' ? true : undefined), 'first publish');
    await fleet.svn.commit({ 'trunk/conf/app.ini': 'new\n', 'trunk/bin/tool': 'new tool\n' }, 'second');

    const res = await api('POST', '/api/projects/game/publish', { files: ['conf', 'bin'], groups: ['zone1'] });
    expect(res.status).toBe(201);
    const jobId = res.body.jobId as number;
    await waitFor(async () => {
      const job = (await api('GET', `/api/jobs/${jobId}`)).body;
      const b = job.hosts.find((h) => h.host === 'b')!;
      const a = job.hosts.find((h) => h.host === 'a')!;
      return b.phase === 'hooks' && a.status === 'succeeded' ? true : undefined;
    }, 'b to reach its hooks');
    expect(fs.readFileSync(path.join(fleet.targets.b.dir, 'conf/app.ini'), 'utf8')).toBe('new\n');

    server!.kill('SIGKILL');
    await new Promise((r) => server!.once('exit', r));
    await startServer();

    const after = (await api('GET', `/api/jobs/${jobId}`)).body;
    expect(after.status).toBe('interrupted');
    const hostA = after.hosts.find((h: { host: string }) => h.host === 'a');
    const hostB = after.hosts.find((h: { host: string }) => h.host === 'b');
    expect(hostA).toMatchObject({ status: 'succeeded', snapshotTaken: true });
    expect(hostB).toMatchObject({ status: 'failed', phase: 'interrupted', snapshotTaken: true });

    const rb = await api('POST', `/api/jobs/${jobId}/rollback`);
    expect(rb.status, JSON.stringify(rb.body)).toBe(201);
    const done = await waitFor(async () => {
      const job = (await api('GET', `/api/jobs/${rb.body.jobId}`)).body;
      return ['succeeded', 'failed', 'partial'].includes(job.status) ? job : undefined;
    }, 'rollback');
    expect(done.status, JSON.stringify(done.hosts)).toBe('succeeded');
    expect(fs.readFileSync(path.join(fleet.targets.a.dir, 'conf/app.ini'), 'utf8')).toBe('old\n');
    expect(fs.existsSync(path.join(fleet.targets.a.dir, 'bin/tool'))).toBe(false);
    expect(fs.existsSync(path.join(fleet.targets.b.dir, 'conf/app.ini'))).toBe(false);
    expect(fs.existsSync(path.join(fleet.targets.b.dir, 'bin/tool'))).toBe(false);
  });
});
