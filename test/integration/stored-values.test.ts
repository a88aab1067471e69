// Values an old install may hold that today's forms refuse (a host deploy directory of "/" or with "..", a project
// concurrency of 1000) are checked again when a job runs: real sshd targets, real engine, real SQLite, the bad values
// written straight into the database as an old install would have them.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { startFleet, type Fleet } from '../helpers/fleet.ts';
import { startTestApp } from '../helpers/app.ts';
import { createEngine } from '../../src/deploy/runner.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import { runFile } from '../../src/lib/exec.ts';
import { pinHostKey } from '../../src/services/targets.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { FIELD_LIMITS } from '../../src/config.ts';
import type { Engine } from '../../src/deploy/runner-types.ts';

/** A file name no real system has, so even a broken build that writes to "/" overwrites nothing. */
const PROBE = 'ferry-stored-values-probe.txt';
let fleet: Fleet;
let t: Awaited<ReturnType<typeof startTestApp>>;
let token: string;
/** Concurrency of each request the engine received. */
const seenConcurrency: number[] = [];
const api = (method: 'get' | 'post', url: string, body?: object) => {
  const req = supertest(t.app)[method](url).set('Authorization', `Bearer ${token}`);
  return body ? req.send(body) : req;
};

beforeAll(async () => {
  fleet = await startFleet({ targets: ['web1', 'web2'], files: { [`trunk/${PROBE}`]: 'hello\n' } });
  t = await startTestApp({
    engine: (svc) => {
      const real = createEngine({
        transport: createSshTransport(), runFile, logger: svc.logger, connectTimeoutMs: 5000,
        onNewHostKey: async (host, key) => void (await pinHostKey(svc, host, key)),
      });
      const engine: Engine = {
        publish: (req, emit) => (seenConcurrency.push(req.concurrency), real.publish(req, emit)),
        rollback: (req, emit) => (seenConcurrency.push(req.concurrency), real.rollback(req, emit)),
        processAction: (req, emit) => (seenConcurrency.push(req.concurrency), real.processAction(req, emit)),
      };
      return engine;
    },
  });
  token = await createToken(t.svc, { actor: cliActor(), ip: 'cli' }, (await t.addUser('ops', 'admin')).name);
  const res = await api('post', '/api/import', fleet.importDoc());
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.jobs?.idle();
  await fleet?.stop();
  await t?.cleanup();
});

async function publishAndWait(): Promise<number> {
  const res = await api('post', '/api/projects/game/publish', { files: [PROBE], groups: ['zone1'] });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await t.jobs!.idle();
  return res.body.jobId as number;
}

describe('stored values the rules refuse', () => {
  it('a host whose stored deploy directory is "/" fails with the reason and is not touched; the other host is published', async () => {
    await t.db.host.update({ where: { name: 'web1' }, data: { deployDir: '/' } });
    const jobId = await publishAndWait();
    const job = await t.db.job.findUniqueOrThrow({ where: { id: jobId }, include: { hosts: { orderBy: { hostName: 'asc' } } } });
    expect(job.status).toBe('partial');
    const [web1, web2] = job.hosts;
    expect(web1.status).toBe('failed');
    expect(web1.error).toContain(`deploy directory "/" of host web1 is not allowed: edit the host's deploy directory`);
    expect(web1.snapshotTaken).toBe(false);
    expect(web2.status, web2.error ?? '').toBe('succeeded');
    expect(fs.readFileSync(path.join(fleet.targets.web2.dir, PROBE), 'utf8')).toBe('hello\n');
    expect(fs.existsSync(`/${PROBE}`)).toBe(false);
    expect(fs.existsSync('/.ferry')).toBe(false);
    const logged = await t.db.opLog.findFirst({ where: { action: 'publish.host-refused', jobId } });
    expect(logged?.target).toBe('web1');
    expect(logged?.detail).toContain('deploy directory "/" of host web1 is not allowed');
  }, 120_000);

  it('a stored deploy directory with ".." is refused before anything is written where it leads', async () => {
    const escape = path.join(fleet.targets.web1.dir, 'escape');
    await t.db.host.update({ where: { name: 'web1' }, data: { deployDir: `${fleet.targets.web1.dir}/sub/../escape` } });
    const jobId = await publishAndWait();
    const web1 = await t.db.jobHost.findFirstOrThrow({ where: { jobId, hostName: 'web1' } });
    expect(web1.status).toBe('failed');
    expect(web1.error).toMatch(/of host web1 is not allowed: edit the host's deploy directory/);
    expect(fs.existsSync(escape)).toBe(false);
    expect(fs.existsSync(path.join(fleet.targets.web1.dir, 'sub'))).toBe(false);
    expect((await t.db.jobHost.findFirstOrThrow({ where: { jobId, hostName: 'web2' } })).status).toBe('succeeded');
  }, 120_000);

  it('a stored project concurrency above the allowed range is used as the range maximum', async () => {
    await t.db.host.update({ where: { name: 'web1' }, data: { deployDir: fleet.targets.web1.dir } });
    await t.db.project.update({ where: { name: 'game' }, data: { concurrency: 1000 } });
    seenConcurrency.length = 0;
    const jobId = await publishAndWait();
    expect((await t.db.job.findUniqueOrThrow({ where: { id: jobId } })).status).toBe('succeeded');
    expect(seenConcurrency).toEqual([FIELD_LIMITS.concurrency.max]);
  }, 120_000);
});
