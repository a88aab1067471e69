// A fresh, migrated SQLite database per test file, plus the Services and actor contexts the services expect.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb, type Db } from '../../src/lib/db.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { applyMigrations } from '../../src/lib/migrate.ts';
import type { Actor, Ctx, ProjectGrant, Role, Services } from '../../src/services/context.ts';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../prisma/migrations');

export interface TestDb {
  db: Db;
  dbFile: string;
  dir: string;
  secretKey: Buffer;
  svc: Services;
  cleanup(): Promise<void>;
}

export async function createTestDb(): Promise<TestDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-test-'));
  const dbFile = path.join(dir, 'ferry.db');
  applyMigrations(dbFile, MIGRATIONS_DIR);
  const db = createDb(dbFile);
  const secretKey = crypto.randomBytes(32);
  const svc: Services = { db, logger: createLogger({ level: 'silent' }), secretKey };
  return {
    db, dbFile, dir, secretKey, svc,
    async cleanup() {
      await db.$disconnect();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ActorOptions {
  id?: number | null;
  name?: string;
  ip?: string;
  /** Grants by project id; missing permissions are false. */
  grants?: Record<number, Partial<ProjectGrant>>;
}

export function ctxFor(role: Role, opts: ActorOptions = {}): Ctx {
  const grants = new Map<number, ProjectGrant>();
  for (const [projectId, g] of Object.entries(opts.grants ?? {})) {
    grants.set(Number(projectId), { publish: false, rollback: false, process: false, approve: false, ...g });
  }
  const actor: Actor = { id: opts.id ?? null, name: opts.name ?? role, role, grants };
  return { actor, ip: opts.ip ?? '127.0.0.1' };
}

export const adminCtx = (opts: ActorOptions = {}): Ctx => ctxFor('admin', opts);
export const memberCtx = (opts: ActorOptions = {}): Ctx => ctxFor('member', opts);
export const auditorCtx = (opts: ActorOptions = {}): Ctx => ctxFor('auditor', opts);
