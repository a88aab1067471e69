// The committed migrations, the schema and the offline Prisma CLI (scripts/prisma.mjs + the Wasm-backed stand-in
// engine scripts/schema-engine.mjs) must agree. This fails when prisma/schema.prisma changed without a migration,
// when a Prisma upgrade breaks the stand-in engine, or when src/lib/migrate.ts stops keeping Prisma's bookkeeping.
import { REPO_ROOT } from '../kit/server-process.ts';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { applyMigrations } from '../../src/lib/migrate.ts';

const run = promisify(execFile);
const migrationsDir = path.join(REPO_ROOT, 'prisma', 'migrations');

interface CliResult {
  code: number;
  output: string;
}

// Runs the Prisma CLI against a database in `dataDir`; never throws, so a failure shows the CLI's own output.
async function prisma(dataDir: string, ...args: string[]): Promise<CliResult> {
  const { DATABASE_URL: _ignored, ...env } = process.env;
  try {
    const { stdout, stderr } = await run(process.execPath, ['scripts/prisma.mjs', ...args], {
      cwd: REPO_ROOT,
      env: { ...env, FERRY_DATA_DIR: dataDir, NO_COLOR: '1', CI: '1' },
      timeout: 120_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-prisma-'));
  tmpDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('Prisma migrations (offline CLI with the Wasm schema engine)', () => {
  it('`prisma migrate deploy` applies the committed migrations to a fresh database', async () => {
    const dataDir = tmpDir();
    const deploy = await prisma(dataDir, 'migrate', 'deploy');
    expect(deploy.output).toMatch(/All migrations have been successfully applied/);
    expect(deploy.code).toBe(0);

    // ...and our start-up migrator agrees that nothing is left to do.
    expect(applyMigrations(path.join(dataDir, 'ferry.db'), migrationsDir)).toEqual({ applied: [] });
    const db = new Database(path.join(dataDir, 'ferry.db'), { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    db.close();
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['User', 'Project', 'Host', 'Job', 'OpLog']));
  });

  it('the committed migrations produce exactly prisma/schema.prisma (`migrate diff --exit-code`)', async () => {
    const diff = await prisma(
      tmpDir(),
      'migrate', 'diff',
      '--from-migrations', 'prisma/migrations',
      '--to-schema', 'prisma/schema.prisma',
      '--exit-code',
    );
    // Exit code 2 means the schema changed without a migration: run `npm run db:migrate -- --name <what_changed>`.
    expect(diff.output).toMatch(/No difference detected/);
    expect(diff.code).toBe(0);
  });

  it('`prisma migrate status` reports a database migrated by applyMigrations as up to date', async () => {
    const dataDir = tmpDir();
    const { applied } = applyMigrations(path.join(dataDir, 'ferry.db'), migrationsDir);
    expect(applied.length).toBeGreaterThan(0);

    const status = await prisma(dataDir, 'migrate', 'status');
    expect(status.output).toMatch(/Database schema is up to date/);
    expect(status.code).toBe(0);
  });
});
