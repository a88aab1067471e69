import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { applyMigrations } from '../../../src/lib/migrate.ts';

const repoMigrations = path.resolve(import.meta.dirname, '../../../prisma/migrations');
const repoMigrationNames = fs
  .readdirSync(repoMigrations, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-migrate-'));
  tmpDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function copyRepoMigrations(): string {
  const dir = path.join(tmpDir(), 'migrations');
  fs.cpSync(repoMigrations, dir, { recursive: true });
  return dir;
}

function writeMigration(migrationsDir: string, name: string, sql: string): void {
  fs.mkdirSync(path.join(migrationsDir, name), { recursive: true });
  fs.writeFileSync(path.join(migrationsDir, name, 'migration.sql'), sql);
}

function query<T>(dbFile: string, sql: string): T[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

function tableNames(dbFile: string): string[] {
  return query<{ name: string }>(dbFile, "SELECT name FROM sqlite_master WHERE type = 'table'").map((row) => row.name);
}

describe('applyMigrations', () => {
  it('creates the database, its folder and every table of the schema on a fresh file', () => {
    const dbFile = path.join(tmpDir(), 'nested', 'data', 'ferry.db');
    const logged: object[] = [];
    const { applied } = applyMigrations(dbFile, repoMigrations, { info: (obj) => logged.push(obj) });

    expect(applied).toEqual(repoMigrationNames);
    expect(logged).toHaveLength(applied.length + 1); // + the operation-log search index, built once
    const tables = tableNames(dbFile);
    expect(tables).toContain('OpLog_search');
    for (const model of ['User', 'Grant', 'ApiToken', 'Session', 'Setting', 'Project', 'Credential', 'Host', 'HostGroup', 'Process', 'Hook', 'Job', 'JobHost', 'OpLog']) {
      expect(tables).toContain(model);
    }
    expect(tables).toContain('_prisma_migrations');
    expect(query<{ journal_mode: string }>(dbFile, 'PRAGMA journal_mode')[0].journal_mode).toBe('wal');
  });

  it('records migrations the way Prisma does', () => {
    const dbFile = path.join(tmpDir(), 'ferry.db');
    applyMigrations(dbFile, repoMigrations);
    const rows = query<Record<string, unknown>>(dbFile, 'SELECT * FROM _prisma_migrations ORDER BY started_at');
    expect(rows.map((row) => row.migration_name)).toEqual(repoMigrationNames);
    for (const row of rows) {
      const script = fs.readFileSync(path.join(repoMigrations, String(row.migration_name), 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(script).digest('hex'));
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row.finished_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
      expect(row.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
      expect(row.rolled_back_at).toBeNull();
      expect(row.logs).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it('applies nothing the second time', () => {
    const dbFile = path.join(tmpDir(), 'ferry.db');
    applyMigrations(dbFile, repoMigrations);
    expect(applyMigrations(dbFile, repoMigrations)).toEqual({ applied: [] });
    expect(query(dbFile, 'SELECT * FROM _prisma_migrations')).toHaveLength(repoMigrationNames.length);
  });

  it('applies only the new migration when one is added', () => {
    const dir = copyRepoMigrations();
    const dbFile = path.join(tmpDir(), 'ferry.db');
    applyMigrations(dbFile, dir);
    writeMigration(dir, '99990101000000_add_note', 'ALTER TABLE "Setting" ADD COLUMN "note" TEXT NOT NULL DEFAULT \'\';\n');
    expect(applyMigrations(dbFile, dir).applied).toEqual(['99990101000000_add_note']);
  });

  it('refuses a migration whose file changed after it was applied', () => {
    const dir = copyRepoMigrations();
    const dbFile = path.join(tmpDir(), 'ferry.db');
    applyMigrations(dbFile, dir);
    const file = path.join(dir, repoMigrationNames[0], 'migration.sql');
    fs.appendFileSync(file, '\n-- edited afterwards\n');
    expect(() => applyMigrations(dbFile, dir)).toThrow(/modified after it was applied/);
  });

  it('accepts a file whose line endings git converted to CRLF', () => {
    const dir = copyRepoMigrations();
    const dbFile = path.join(tmpDir(), 'ferry.db');
    applyMigrations(dbFile, dir);
    const file = path.join(dir, repoMigrationNames[0], 'migration.sql');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
    expect(applyMigrations(dbFile, dir).applied).toEqual([]);
  });

  it('refuses to go on when Prisma recorded a failed migration', () => {
    const dbFile = path.join(tmpDir(), 'ferry.db');
    applyMigrations(dbFile, repoMigrations);
    const db = new Database(dbFile);
    db.prepare("INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ('x', 'y', '2026-01-01T00:00:00.000+00:00', '99990101000000_broken')").run();
    db.close();
    expect(() => applyMigrations(dbFile, repoMigrations)).toThrow(/99990101000000_broken failed earlier/);
  });

  it('rolls a failing migration back completely and does not record it', () => {
    const dir = copyRepoMigrations();
    const dbFile = path.join(tmpDir(), 'ferry.db');
    applyMigrations(dbFile, dir);
    writeMigration(dir, '99990101000000_bad', 'CREATE TABLE "Half" ("id" INTEGER);\nSELEC oops;\n');
    expect(() => applyMigrations(dbFile, dir)).toThrow(/migration 99990101000000_bad failed: .*syntax error/);
    expect(tableNames(dbFile)).not.toContain('Half');
    expect(query(dbFile, "SELECT * FROM _prisma_migrations WHERE migration_name = '99990101000000_bad'")).toEqual([]);
  });

  it('rebuilds a referenced table the Prisma way without cascading deletes to its children', () => {
    const dir = path.join(tmpDir(), 'migrations');
    writeMigration(
      dir,
      '20260101000000_init',
      `CREATE TABLE "Parent" ("id" INTEGER NOT NULL PRIMARY KEY, "name" TEXT NOT NULL);
CREATE TABLE "Child" ("id" INTEGER NOT NULL PRIMARY KEY, "parentId" INTEGER NOT NULL,
  CONSTRAINT "Child_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Parent" ("id") ON DELETE CASCADE ON UPDATE CASCADE);
INSERT INTO "Parent" ("id", "name") VALUES (1, 'p');
INSERT INTO "Child" ("id", "parentId") VALUES (1, 1), (2, 1);
`,
    );
    // What `prisma migrate dev` generates for a change SQLite cannot ALTER (here: a new default).
    writeMigration(
      dir,
      '20260102000000_redefine_parent',
      `-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Parent" ("id" INTEGER NOT NULL PRIMARY KEY, "name" TEXT NOT NULL DEFAULT '');
INSERT INTO "new_Parent" ("id", "name") SELECT "id", "name" FROM "Parent";
DROP TABLE "Parent";
ALTER TABLE "new_Parent" RENAME TO "Parent";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
`,
    );
    const dbFile = path.join(tmpDir(), 'ferry.db');
    expect(applyMigrations(dbFile, dir).applied).toHaveLength(2);
    expect(query(dbFile, 'SELECT * FROM "Child"')).toHaveLength(2);
    expect(query(dbFile, 'PRAGMA foreign_key_check')).toEqual([]);
  });

  it('refuses a migration that leaves dangling foreign keys', () => {
    const dir = path.join(tmpDir(), 'migrations');
    writeMigration(
      dir,
      '20260101000000_init',
      `CREATE TABLE "Parent" ("id" INTEGER NOT NULL PRIMARY KEY);
CREATE TABLE "Child" ("id" INTEGER NOT NULL PRIMARY KEY, "parentId" INTEGER NOT NULL REFERENCES "Parent" ("id"));
INSERT INTO "Child" ("id", "parentId") VALUES (1, 42);
`,
    );
    const dbFile = path.join(tmpDir(), 'ferry.db');
    expect(() => applyMigrations(dbFile, dir)).toThrow(/foreign key violation/);
    expect(tableNames(dbFile)).not.toContain('Child');
  });

  it('refuses migrations written for another database', () => {
    const dir = copyRepoMigrations();
    fs.writeFileSync(path.join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
    expect(() => applyMigrations(path.join(tmpDir(), 'ferry.db'), dir)).toThrow(/postgresql/);
  });
});
