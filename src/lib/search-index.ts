// Full-text search over the operation log: an FTS5 trigram index kept in step with OpLog by triggers.
// It is derived data, created after the migrations (Prisma's schema tooling does not model FTS5 tables), so it is
// (re)built here whenever it is missing; dropping it loses nothing.
import type BetterSqlite3 from 'better-sqlite3';

export const OPLOG_SEARCH_COLUMNS = ['userName', 'action', 'project', 'target', 'detail', 'ip'] as const;

const OBJECTS = ['OpLog_search', 'OpLog_search_insert', 'OpLog_search_delete', 'OpLog_search_update'];

/** Creates the index if any part is missing (e.g. a migration rebuilt OpLog and so dropped its triggers). */
export function ensureOpLogSearch(db: BetterSqlite3.Database): boolean {
  const present = db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name IN (${OBJECTS.map(() => '?').join(', ')})`).get(...OBJECTS) as { n: number };
  if (present.n === OBJECTS.length) return false;
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'OpLog'").get()) return false;
  const cols = OPLOG_SEARCH_COLUMNS.join(', ');
  const newCols = OPLOG_SEARCH_COLUMNS.map((c) => `new.${c}`).join(', ');
  const oldCols = OPLOG_SEARCH_COLUMNS.map((c) => `old.${c}`).join(', ');
  db.transaction(() => {
    db.exec(`
      DROP TRIGGER IF EXISTS OpLog_search_insert;
      DROP TRIGGER IF EXISTS OpLog_search_delete;
      DROP TRIGGER IF EXISTS OpLog_search_update;
      DROP TABLE IF EXISTS OpLog_search;
      CREATE VIRTUAL TABLE OpLog_search USING fts5(${cols}, content='OpLog', content_rowid='id', tokenize='trigram');
      CREATE TRIGGER OpLog_search_insert AFTER INSERT ON OpLog BEGIN
        INSERT INTO OpLog_search(rowid, ${cols}) VALUES (new.id, ${newCols});
      END;
      CREATE TRIGGER OpLog_search_delete AFTER DELETE ON OpLog BEGIN
        INSERT INTO OpLog_search(OpLog_search, rowid, ${cols}) VALUES ('delete', old.id, ${oldCols});
      END;
      CREATE TRIGGER OpLog_search_update AFTER UPDATE ON OpLog BEGIN
        INSERT INTO OpLog_search(OpLog_search, rowid, ${cols}) VALUES ('delete', old.id, ${oldCols});
        INSERT INTO OpLog_search(rowid, ${cols}) VALUES (new.id, ${newCols});
      END;
      INSERT INTO OpLog_search(OpLog_search) VALUES ('rebuild');
    `);
  })();
  return true;
}
