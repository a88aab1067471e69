// Builds the real app on a fresh SQLite file and gives tests signed-in supertest agents.
import { Writable } from 'node:stream';
import supertest from 'supertest';
import type { Express } from 'express';
import { createApp, type AppDeps } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { hashPassword } from '../../src/lib/crypto.ts';
import { grantToRow, PERMISSIONS, type Permission, type ProjectGrant, type Role, type Services } from '../../src/services/context.ts';
import { createTestDb } from '../kit/db.ts';
import { JobRunner } from '../../src/services/jobs/index.ts';
import type { Engine } from '../../src/deploy/runner-types.ts';
import { createEngine, type EngineDeps } from '../../src/deploy/runner.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import { runFile } from '../../src/lib/exec.ts';
import { pinHostKey } from '../../src/services/targets.ts';

export const PASSWORD = 'correct horse battery';

export function testConfig(dataDir: string, secretKey: Buffer): Config {
  return {
    port: 0, host: '127.0.0.1', dataDir, dbFile: `${dataDir}/ferry.db`, migrationsDir: 'prisma/migrations',
    secretKey, secretKeySource: 'env', sessionSecret: 'test-session-secret', logLevel: 'info',
    cookieSecure: false, trustProxy: 0, sessionMaxAgeHours: 1, publicUrl: 'http://ferry.test', smtp: null,
  };
}

export type Agent = ReturnType<typeof supertest.agent>;

/**
 * The real release engine over SSH, for startTestApp({ engine }): a 5 s connect timeout, and a host's key pinned on
 * first contact (as "Test connection" would). `overrides` change single options (a slowed transport, a relay limit).
 */
export function realEngine(overrides: Partial<EngineDeps> = {}): (svc: Services) => Engine {
  return (svc) => createEngine({
    transport: createSshTransport(), runFile, logger: svc.logger, connectTimeoutMs: 5000,
    onNewHostKey: async (host, key) => void (await pinHostKey(svc, host, key)),
    ...overrides,
  });
}

export async function startTestApp(opts: Partial<Pick<AppDeps, 'throttle' | 'jobs'>> & {
  /** Builds the job runner for this app's database (e.g. the real engine with an onNewHostKey that pins keys). */
  engine?: (svc: Services) => Engine;
} = {}) {
  const t = await createTestDb();
  const logLines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  const logger = createLogger({ level: 'debug', destination });
  const config = testConfig(t.dir, t.secretKey);
  const svc: Services = { db: t.db, logger, secretKey: t.secretKey };
  const jobs = opts.jobs ?? (opts.engine ? new JobRunner(svc, opts.engine(svc)) : undefined);
  const app: Express = createApp({ config, db: t.db, logger, throttle: opts.throttle, jobs });

  async function addUser(name: string, role: Role, grants: Record<string, Permission[]> = {}) {
    const user = await t.db.user.create({ data: { name, role, passwordHash: await hashPassword(PASSWORD) } });
    for (const [projectName, perms] of Object.entries(grants)) {
      const project = await t.db.project.findUniqueOrThrow({ where: { name: projectName } });
      const flags = Object.fromEntries(PERMISSIONS.map((p) => [p, perms.includes(p)])) as ProjectGrant;
      await t.db.grant.create({ data: { userId: user.id, projectId: project.id, ...grantToRow(flags) } });
    }
    return user;
  }

  /** A supertest agent signed in as `name` (created with `role` if missing). */
  async function login(name: string, role: Role = 'admin', grants: Record<string, Permission[]> = {}): Promise<Agent> {
    if (!(await t.db.user.findUnique({ where: { name } }))) await addUser(name, role, grants);
    const agent = supertest.agent(app);
    const token = await csrf(agent, '/login');
    const res = await agent.post('/login').type('form').send({ username: name, password: PASSWORD, _csrf: token });
    if (res.status !== 302) throw new Error(`login as ${name} failed: ${res.status}`);
    return agent;
  }

  return { app, db: t.db, svc, config, logLines, jobs, addUser, login, dir: t.dir, cleanup: t.cleanup };
}

/** Reads the CSRF token from a page's <meta name="csrf-token"> (the session must already exist or be created by the page). */
export async function csrf(agent: Agent, path = '/'): Promise<string> {
  const res = await agent.get(path);
  const m = /name="csrf-token" content="([^"]+)"/.exec(res.text) ?? /name="_csrf" value="([^"]+)"/.exec(res.text);
  if (!m) throw new Error(`no CSRF token on ${path} (status ${res.status})`);
  return m[1];
}
