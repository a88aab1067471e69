// Applies prisma/migrations/*/migration.sql at start-up with better-sqlite3, so the server never needs the Prisma CLI
// at run time. It keeps Prisma's own bookkeeping table `_prisma_migrations` exactly as `prisma migrate deploy` does
// (same columns, sha256 checksums, ISO timestamps), so `prisma migrate status`/`deploy`/`dev` agree with it.
//
// Differences from Prisma, all on the safe side: each migration runs in one transaction (a failing migration leaves
// nothing behind and is not recorded), foreign keys are checked before commit, and a migration whose file changed
// after it was applied, or one that Prisma recorded as failed, stops start-up instead of being skipped.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { ensureOpLogSearch } from './search-index.ts';

interface MigrationLogger {
  info(obj: object, msg?: string): void;
}

interface MigrationResult {
  /** Names of the migration folders applied by this call, in order. */
  applied: string[];
}

// The DDL Prisma's schema engine uses for SQLite, verbatim, so a database migrated here looks the same to Prisma.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: string | null;
  migration_name: string;
  rolled_back_at: string | null;
}

interface MigrationFile {
  name: string;
  script: string;
}

/** sha256 hex of the script: the checksum Prisma stores for a migration. */
function migrationChecksum(script: string): string {
  return createHash('sha256').update(script, 'utf8').digest('hex');
}

// Like Prisma, accept a checksum taken before git changed the file's line endings (LF <-> CRLF).
function matchesChecksum(script: string, checksum: string): boolean {
  const variants = [script, script.replace(/\r\n/g, '\n'), script.replace(/\r?\n/g, '\r\n')];
  return variants.some((variant) => migrationChecksum(variant) === checksum);
}

// Prisma writes timestamps as RFC 3339 with milliseconds and an explicit offset: 2026-01-31T12:00:00.123+00:00.
function timestamp(): string {
  return new Date().toISOString().replace('Z', '+00:00');
}

function readMigrations(migrationsDir: string): MigrationFile[] {
  if (!fs.existsSync(migrationsDir)) throw new Error(`migrations folder not found: ${migrationsDir}`);
  const lockFile = path.join(migrationsDir, 'migration_lock.toml');
  if (fs.existsSync(lockFile)) {
    const provider = /^\s*provider\s*=\s*"([^"]*)"/m.exec(fs.readFileSync(lockFile, 'utf8'))?.[1];
    if (provider && provider !== 'sqlite') {
      throw new Error(`${lockFile} says the migrations are for "${provider}", not "sqlite"`);
    }
  }
  return fs
    .readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b)) // the order Prisma's CLI uses
    .map((name) => {
      const file = path.join(migrationsDir, name, 'migration.sql');
      if (!fs.existsSync(file)) throw new Error(`migration ${name} has no migration.sql (${file})`);
      return { name, script: fs.readFileSync(file, 'utf8') };
    });
}

/**
 * Brings the SQLite database `dbFile` up to date with the migration folders in `migrationsDir` and returns the
 * names of those it applied. Throws, applying nothing further, when the recorded history cannot be trusted.
 */
export function applyMigrations(dbFile: string, migrationsDir: string, log?: MigrationLogger): MigrationResult {
  const migrations = readMigrations(migrationsDir);
  fs.mkdirSync(path.dirname(path.resolve(dbFile)), { recursive: true });
  const db = new Database(dbFile);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 10000');
    db.exec(CREATE_MIGRATIONS_TABLE);

    const rows = (): MigrationRow[] =>
      db
        .prepare('SELECT id, checksum, finished_at, migration_name, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at')
        .all() as MigrationRow[];
    const isApplied = (row: MigrationRow) => row.finished_at !== null && row.rolled_back_at === null;

    // Refuse to build on a history that Prisma itself would refuse (deploy: P3009) or that no longer matches the code.
    const recorded = rows();
    const failed = recorded.filter((row) => row.finished_at === null && row.rolled_back_at === null);
    if (failed.length > 0) {
      throw new Error(
        `migration ${failed.map((row) => row.migration_name).join(', ')} failed earlier and is recorded as failed in ${dbFile}; ` +
          'fix the database by hand, then mark it with `node scripts/prisma.mjs migrate resolve --rolled-back <name>` (or --applied)',
      );
    }
    for (const row of recorded.filter(isApplied)) {
      const file = migrations.find((migration) => migration.name === row.migration_name);
      if (file && !matchesChecksum(file.script, row.checksum)) {
        throw new Error(
          `migration ${row.migration_name} was modified after it was applied to ${dbFile} ` +
            '(checksum mismatch): restore the original migration.sql and put the change in a new migration',
        );
      }
    }
    const unknown = recorded.filter((row) => isApplied(row) && !migrations.some((m) => m.name === row.migration_name));
    if (unknown.length > 0) {
      log?.info({ migrations: unknown.map((row) => row.migration_name) }, 'database has migrations that this version does not know');
    }

    const insert = db.prepare('INSERT INTO "_prisma_migrations" (id, checksum, started_at, migration_name) VALUES (?, ?, ?, ?)');
    const finish = db.prepare('UPDATE "_prisma_migrations" SET finished_at = ?, applied_steps_count = 1 WHERE id = ?');
    const applied: string[] = [];

    for (const migration of migrations) {
      if (recorded.some((row) => isApplied(row) && row.migration_name === migration.name)) continue;
      const apply = db.transaction(() => {
        // Another process (the CLI, a second server) may have applied it since we looked: we now hold the write lock.
        if (rows().some((row) => isApplied(row) && row.migration_name === migration.name)) return false;
        const id = randomUUID();
        insert.run(id, migrationChecksum(migration.script), timestamp(), migration.name);
        try {
          db.exec(migration.script);
        } catch (error) {
          throw new Error(`migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        const violations = db.pragma('foreign_key_check') as unknown[];
        if (violations.length > 0) {
          throw new Error(`migration ${migration.name} failed: it leaves ${violations.length} foreign key violation(s)`);
        }
        finish.run(timestamp(), id);
        return true;
      });
      // Foreign keys must be off while a migration runs: Prisma's table rebuilds (CREATE new_X, copy, DROP X, rename)
      // would otherwise fire ON DELETE CASCADE actions on the DROP. The PRAGMA has no effect inside a transaction, so
      // it is set around it (the migration's own `PRAGMA foreign_keys=...` lines are no-ops); foreign_key_check above
      // still refuses a migration that leaves dangling references.
      db.pragma('foreign_keys = OFF');
      let done: boolean;
      try {
        done = apply.immediate();
      } finally {
        db.pragma('foreign_keys = ON');
      }
      if (done) {
        applied.push(migration.name);
        log?.info({ migration: migration.name }, 'applied database migration');
      }
    }
    if (ensureOpLogSearch(db)) log?.info({}, 'built the operation-log search index');
    return { applied };
  } finally {
    db.close();
  }
}
