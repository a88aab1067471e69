// A bug inside Ferry (here: the transport throws a TypeError) must not put its raw message on a job page: the host
// shows "Internal error, see the server log (error id …)" and the log holds the stack under that id.
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import { createEngine } from '../../src/deploy/runner.ts';
import { runFile } from '../../src/lib/exec.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';

let t: Awaited<ReturnType<typeof startTestApp>>;
let token: string;
const api = (method: 'get' | 'post', url: string, body?: object) => {
  const req = supertest(t.app)[method](url).set('Authorization', `Bearer ${token}`);
  return body ? req.send(body) : req;
};

beforeAll(async () => {
  t = await startTestApp({
    engine: (svc) => createEngine({
      transport: { connect: async () => { throw new TypeError("Cannot read properties of undefined (reading 'secretHostKey')"); } },
      runFile, logger: svc.logger,
    }),
  });
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  const res = await api('post', '/api/import', {
    credentials: [{ name: 'k', username: 'deploy', password: 'not used' }],
    hosts: [{ name: 'web1', address: '127.0.0.1', port: 22, credential: 'k', deployDir: '/srv/app' }],
    projects: [{
      name: 'game', svnUrl: 'svn://127.0.0.1/repo/trunk', deployDir: '/srv/app', groups: { zone1: ['web1'] },
      processes: [{ name: 'app', start: 'true', stop: 'true', status: 'true', groups: ['zone1'] }],
    }],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
});

afterAll(async () => {
  await t?.jobs?.idle();
  await t?.cleanup();
});

describe('internal errors', () => {
  it('show on the job only as "internal error" with an id that finds the stack in the log', async () => {
    const started = await api('post', '/api/projects/game/processes', { action: 'status' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    await t.jobs!.idle();
    const job = (await api('get', `/api/jobs/${started.body.jobId}`)).body as { status: string; hosts: { host: string; status: string; error: string | null }[] };
    expect(job.status).toBe('failed');
    const error = job.hosts[0].error ?? '';
    const id = /^Internal error, see the server log \(error id ([0-9a-f]{8})\)\.$/.exec(error)?.[1];
    expect(id, error).toBeDefined();
    expect(JSON.stringify(job)).not.toContain('secretHostKey');
    const entry = t.logLines.map((line) => JSON.parse(line)).find((line) => line.errorId === id);
    expect(entry).toMatchObject({ host: 'web1', msg: 'unexpected error' });
    expect(entry.err.stack).toContain('TypeError');
  });
});
