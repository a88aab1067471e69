// Web benchmark: the operation log's server-side DataTables endpoint (/oplog/data, session) and /api/logs (token) on
// 200,000 rows, a project of 500 hosts, and the SVN tree endpoint on a directory of 20,000 files. Prints median/p95
// per query kind next to the targets, then EXPLAIN QUERY PLAN and direct SQLite timings of the statements Prisma
// runs for the slow kinds. Prints numbers; asserts nothing.
//   npm run bench:web [-- --rows 200000 --hosts 500 --files 20000 --runs 30 --explain-all --keep]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from '../../src/generated/prisma/client.ts';
import { applyMigrations } from '../../src/lib/migrate.ts';
import { createDb } from '../../src/lib/db.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createToken } from '../../src/services/users.ts';
import { cliActor } from '../../src/services/context.ts';
import { queryOpLog, OPLOG_COLUMNS, type OpLogColumn, type OpLogFilter } from '../../src/services/oplog-query.ts';
import { parseListXml } from '../../src/deploy/svn/index.ts';
import { runFile } from '../../src/lib/exec.ts';
import { startSvnServer, type SvnServer } from '../../test/kit/svnserve.ts';
import { MIGRATIONS_DIR } from '../../test/kit/db.ts';
import {
  foreignWorkload, HttpClient, intFlag, machineSummary, median, mib, ms, now, parseFlags, percentile, REPO_ROOT, secs, startFerryServer, table, waitForQuiet,
  runBench,
} from './common.ts';

const flags = parseFlags(process.argv.slice(2));
const ROWS = intFlag(flags, 'rows', 200_000);
const HOSTS = intFlag(flags, 'hosts', 500);
const TREE_FILES = intFlag(flags, 'files', 20_000);
const RUNS = intFlag(flags, 'runs', 30);
const KEEP = flags.has('keep');
/** Print the plans of every log query kind, not only those over the target. */
const EXPLAIN_ALL = flags.has('explain-all');
const LOG_TARGET_MS = 100;
const TREE_TARGET_MS = 1000;
const ADMIN_PASSWORD = 'bench-admin-password';

const log = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stderr.write(`[bench] ${text}\n`);

// ---- seeding the operation log (raw SQL, one transaction, multi-row INSERTs)

const USERS = ['admin', ...Array.from({ length: 29 }, (_, i) => `ops${String(i + 1).padStart(2, '0')}`), ...Array.from({ length: 10 }, (_, i) => `dev${String(i + 1).padStart(2, '0')}`)];
const PROJECTS = Array.from({ length: 20 }, (_, i) => `game-${String(i + 1).padStart(2, '0')}`);
/** [action, weight, needs project, is a job action] */
const ACTIONS: [string, number, boolean, boolean][] = [
  ['login', 25, false, false], ['logout', 10, false, false], ['publish.start', 12, true, true], ['publish.finish', 12, true, true],
  ['process.restart', 8, true, true], ['process.status', 8, true, true], ['process.finish', 6, true, true], ['rollback.start', 1, true, true],
  ['rollback.finish', 1, true, true], ['host.update', 4, false, false], ['host.create', 2, false, false], ['project.update', 3, true, false],
  ['import', 1, false, false], ['access', 3, false, false], ['token.create', 1, false, false], ['user.create', 1, false, false],
  ['host.pin-key', 2, false, false],
];
const ACTION_TOTAL = ACTIONS.reduce((s, a) => s + a[1], 0);

/** The same text format Prisma's SQLite adapter writes for DateTime (checked against a row written by recordOp). */
export const prismaDateTime = (d: Date) => d.toISOString().replace('Z', '+00:00');

function pick<T>(list: readonly T[], skew = 1): T {
  return list[Math.min(list.length - 1, Math.floor(list.length * Math.random() ** skew))];
}

function seedOpLog(dbFile: string, rows: number, endAt: Date): { ms: number; firstAt: Date } {
  const t0 = now();
  const db = new Database(dbFile);
  const spanMs = 365 * 86_400_000;
  const firstAt = new Date(endAt.getTime() - spanMs);
  const COLS = ['at', 'userId', 'userName', 'ip', 'action', 'project', 'target', 'result', 'detail', 'jobId'];
  const BATCH = 500;
  const insert = (n: number) => db.prepare(`INSERT INTO OpLog (${COLS.map((c) => `"${c}"`).join(', ')}) VALUES ${Array.from({ length: n }, () => `(${COLS.map(() => '?').join(', ')})`).join(', ')}`);
  const full = insert(BATCH);
  let job = 0;
  const row = (i: number): unknown[] => {
    const at = new Date(firstAt.getTime() + Math.floor((i / rows) * spanMs) + Math.floor(Math.random() * 1000));
    let r = Math.random() * ACTION_TOTAL;
    let a = ACTIONS[0];
    for (const candidate of ACTIONS) {
      r -= candidate[1];
      if (r <= 0) {
        a = candidate;
        break;
      }
    }
    const [action, , withProject, isJob] = a;
    const user = Math.random() < 0.02 ? 'system' : pick(USERS, 1.6);
    const userIdx = USERS.indexOf(user);
    const project = withProject ? pick(PROJECTS, 1.4) : '';
    const result = action === 'access' ? 'denied' : Math.random() < 0.06 ? 'failed' : Math.random() < 0.02 ? 'denied' : 'ok';
    const jobId = isJob ? (action.endsWith('.start') || action.startsWith('process.') && action !== 'process.finish' ? ++job : Math.max(1, job)) : null;
    const zone = `zone${1 + Math.floor(Math.random() * 40)}-${'abcd'[Math.floor(Math.random() * 4)]}`;
    const target = isJob ? `job #${jobId}` : action.startsWith('host.') ? zone : action === 'access' ? 'GET /admin/users' : action.endsWith('create') ? `${user}-token` : '';
    const detail = action === 'publish.start' ? `r${1000 + Math.floor(i / 50)}, ${1 + Math.floor(Math.random() * 9)} path(s) to ${1 + Math.floor(Math.random() * 40)} host(s)`
      : action.endsWith('.finish') ? (result === 'ok' ? 'status succeeded' : `${zone}: connection refused by ${zone} (10.1.${userIdx}.${i % 250}:22)`)
        : action === 'host.update' ? 'changed address, port, credentialId'
          : action === 'access' ? 'needs role admin'
            : action === 'login' && result !== 'ok' ? 'wrong user name or password' : '';
    const ip = user === 'system' ? '' : `10.${userIdx % 8}.${userIdx}.${1 + (i % 7)}`;
    return [prismaDateTime(at), userIdx >= 0 ? userIdx + 1 : null, user, ip, action, project, target, result, detail, jobId];
  };
  db.transaction(() => {
    for (let start = 0; start < rows; start += BATCH) {
      const n = Math.min(BATCH, rows - start);
      const values: unknown[] = [];
      for (let i = start; i < start + n; i++) values.push(...row(i));
      (n === BATCH ? full : insert(n)).run(...values);
    }
  })();
  db.close();
  return { ms: now() - t0, firstAt };
}

// ---- an SVN repository with one directory of many files, loaded from a generated dump (much faster than commits)

async function writeDump(file: string, files: number): Promise<void> {
  const out = createWriteStream(file);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  const props = (p: Record<string, string>) => `${Object.entries(p).map(([k, v]) => `K ${Buffer.byteLength(k)}\n${k}\nV ${Buffer.byteLength(v)}\n${v}\n`).join('')}PROPS-END\n`;
  const revProps = props({ 'svn:log': 'bench: many files', 'svn:author': 'builder', 'svn:date': '2026-01-01T00:00:00.000000Z' });
  await write(`SVN-fs-dump-format-version: 2\n\nRevision-number: 1\nProp-content-length: ${Buffer.byteLength(revProps)}\nContent-length: ${Buffer.byteLength(revProps)}\n\n${revProps}\n`);
  const empty = props({});
  const dir = async (p: string) => write(`Node-path: ${p}\nNode-kind: dir\nNode-action: add\nProp-content-length: ${empty.length}\nContent-length: ${empty.length}\n\n${empty}\n\n`);
  const fileNode = async (p: string, text: string) => {
    const len = Buffer.byteLength(text);
    await write(`Node-path: ${p}\nNode-kind: file\nNode-action: add\nProp-content-length: ${empty.length}\nText-content-length: ${len}\nContent-length: ${empty.length + len}\n\n${empty}${text}\n\n`);
  };
  await dir('trunk');
  await dir('trunk/bin');
  await fileNode('trunk/bin/server', '#!/bin/sh\necho server\n');
  await dir('trunk/conf');
  await fileNode('trunk/conf/app.ini', 'level=1\n');
  await dir('trunk/assets');
  for (let i = 0; i < files; i++) await fileNode(`trunk/assets/asset-${String(i).padStart(6, '0')}.dat`, `asset ${i} ${randomBytes(8).toString('hex')}\n`);
  out.end();
  await once(out, 'finish');
}

// ---- query kinds

interface Kind {
  name: string;
  filter: OpLogFilter;
  offset: number;
  limit: number;
  orderBy: OpLogColumn;
  dir: 'asc' | 'desc';
  /** 'dt' = /oplog/data with a session (as the page's DataTable sends it), 'api' = /api/logs with a bearer token. */
  via: 'dt' | 'api';
}

function dataTablesQuery(k: Kind, draw: number): string {
  const p = new URLSearchParams();
  p.set('draw', String(draw));
  OPLOG_COLUMNS.forEach((c, i) => {
    p.set(`columns[${i}][data]`, c);
    p.set(`columns[${i}][name]`, '');
    p.set(`columns[${i}][searchable]`, 'true');
    p.set(`columns[${i}][orderable]`, c === 'detail' ? 'false' : 'true');
    p.set(`columns[${i}][search][value]`, '');
    p.set(`columns[${i}][search][regex]`, 'false');
  });
  p.set('order[0][column]', String(OPLOG_COLUMNS.indexOf(k.orderBy)));
  p.set('order[0][dir]', k.dir);
  p.set('order[0][name]', '');
  p.set('start', String(k.offset));
  p.set('length', String(k.limit));
  p.set('search[value]', k.filter.search ?? '');
  p.set('search[regex]', 'false');
  // The filter form's fields, sent with every request (empty when unused).
  for (const f of ['user', 'project', 'action', 'result', 'from', 'to'] as const) p.set(f, (k.filter as Record<string, string | undefined>)[f] ?? '');
  return `/oplog/data?${p.toString()}`;
}

function apiQuery(k: Kind): string {
  const p = new URLSearchParams();
  for (const [key, v] of Object.entries(k.filter)) if (v !== undefined && v !== '') p.set(key, String(v));
  p.set('offset', String(k.offset));
  p.set('limit', String(k.limit));
  p.set('sort', k.orderBy);
  p.set('dir', k.dir);
  return `/api/logs?${p.toString()}`;
}

function kinds(rows: number, lastDay: Date): Kind[] {
  const base = { filter: {}, offset: 0, limit: 50, orderBy: 'at' as OpLogColumn, dir: 'desc' as const, via: 'dt' as const };
  const day = (offsetDays: number) => new Date(lastDay.getTime() - offsetDays * 86_400_000).toISOString().slice(0, 10);
  const lastPage = Math.max(0, Math.floor((rows - 1) / 50) * 50);
  return [
    { ...base, name: 'page 1 (newest first)' },
    { ...base, name: 'page 2', offset: 50 },
    { ...base, name: 'page 40 (offset 2,000)', offset: 2000 },
    { ...base, name: 'deep offset 100,000', offset: 100_000 },
    { ...base, name: `last page (offset ${lastPage.toLocaleString('en')})`, offset: lastPage },
    { ...base, name: 'search "publish" (common)', filter: { search: 'publish' } },
    { ...base, name: 'search "zone17-b" (rare)', filter: { search: 'zone17-b' } },
    { ...base, name: 'search "ops07"', filter: { search: 'ops07' } },
    { ...base, name: 'search "nomatch-xyz" (no hit)', filter: { search: 'nomatch-xyz' } },
    { ...base, name: 'filter user=ops07', filter: { user: 'ops07' } },
    { ...base, name: 'filter project=game-05', filter: { project: 'game-05' } },
    { ...base, name: 'filter action=publish (prefix)', filter: { action: 'publish' } },
    { ...base, name: 'filter action=rollback.finish', filter: { action: 'rollback.finish' } },
    { ...base, name: 'filter result=failed', filter: { result: 'failed' } },
    { ...base, name: 'date range: 1 month', filter: { from: day(60), to: day(31) } },
    { ...base, name: 'date range: 1 day', filter: { from: day(100), to: day(100) } },
    { ...base, name: 'user + project + month', filter: { user: 'ops03', project: 'game-02', from: day(120), to: day(90) } },
    { ...base, name: 'user=ops07, page 20', filter: { user: 'ops07' }, offset: 1000 },
    { ...base, name: 'sort at asc (oldest first)', dir: 'asc' },
    { ...base, name: 'sort userName asc', orderBy: 'userName', dir: 'asc' },
    { ...base, name: 'sort action desc', orderBy: 'action' },
    { ...base, name: 'sort project asc', orderBy: 'project', dir: 'asc' },
    { ...base, name: 'sort result asc', orderBy: 'result', dir: 'asc' },
    { ...base, name: 'sort ip asc', orderBy: 'ip', dir: 'asc' },
    { ...base, name: 'sort target asc', orderBy: 'target', dir: 'asc' },
    { ...base, name: 'sort userName, offset 100,000', orderBy: 'userName', dir: 'asc', offset: 100_000 },
    { ...base, name: 'search "publish" + sort action', filter: { search: 'publish' }, orderBy: 'action', dir: 'asc' },
    { ...base, name: 'API page 1 (limit 50)', via: 'api' },
    { ...base, name: 'API search "zone17-b"', via: 'api', filter: { search: 'zone17-b' } },
    { ...base, name: 'API filter user, limit 1000', via: 'api', filter: { user: 'ops07' }, limit: 1000 },
    { ...base, name: 'API deep offset 150,000', via: 'api', offset: 150_000 },
  ];
}

interface Measured {
  name: string;
  samples: number[];
  status: number;
  info: string;
}

/** Kinds measured while another test runner was busy on the machine (their numbers may be inflated). */
const disturbedKinds = new Map<string, string>();

/** Measures once the machine is quiet; a measurement that another test runner disturbed is taken again (3 tries). */
async function timeRuns(name: string, runs: number, fn: () => Promise<{ status: number; ms: number; text: string }>, info: (text: string) => string = () => ''): Promise<Measured> {
  for (let attempt = 1; ; attempt++) {
    await waitForQuiet(name, { sampleMs: 500 });
    let foreign = '';
    const watch = setInterval(() => (foreign ||= foreignWorkload()[0] ?? ''), 250);
    let measured: Measured;
    try {
      measured = await timeRunsNow(name, runs, fn, info);
    } finally {
      clearInterval(watch);
    }
    if (!foreign) {
      disturbedKinds.delete(name);
      return measured;
    }
    disturbedKinds.set(name, foreign);
    if (attempt === 3) return measured;
    step(`${name}: another test runner started during the measurement, measuring again`);
  }
}

async function timeRunsNow(name: string, runs: number, fn: () => Promise<{ status: number; ms: number; text: string }>, info: (text: string) => string): Promise<Measured> {
  const warm = await fn(); // one warm-up run, not counted
  const samples: number[] = [];
  let status = warm.status;
  let last = warm.text;
  for (let i = 0; i < runs; i++) {
    const r = await fn();
    samples.push(r.ms);
    status = r.status === 200 ? status : r.status;
    last = r.text;
  }
  return { name, samples, status, info: status === 200 ? info(last) : `HTTP ${status}: ${last.slice(0, 200)}` };
}

// ---- EXPLAIN: capture the SQL Prisma sends for a query kind and look at it with SQLite itself

interface Captured {
  sql: string;
  params: unknown[];
}

async function captureSql(dbFile: string, k: Kind): Promise<Captured[]> {
  const captured: Captured[] = [];
  const adapter = new PrismaBetterSqlite3({ url: `file:${dbFile}` });
  const db = new PrismaClient({ adapter, log: [{ level: 'query', emit: 'event' }] });
  db.$on('query', (e) => captured.push({ sql: e.query, params: JSON.parse(e.params) as unknown[] }));
  await queryOpLog({ db }, k.filter, { offset: k.offset, limit: k.limit, orderBy: k.orderBy, dir: k.dir });
  await db.$disconnect();
  return captured;
}

/** Prisma logs DateTime parameters in its own notation; bind them the way its SQLite adapter writes them. */
function bindable(v: unknown): unknown {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( ?UTC|Z|\+00:00)$/.test(v)) {
    return prismaDateTime(new Date(v.replace(' UTC', 'Z').replace(' ', 'T')));
  }
  return v;
}

function sqliteTiming(raw: Database.Database, c: Captured, runs = 5): { ms: number; plan: string[]; rows: number } {
  const params = c.params.map(bindable);
  const stmt = raw.prepare(c.sql);
  const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${c.sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
  const samples: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    rows = (stmt.all(...params) as unknown[]).length;
    samples.push(now() - t0);
  }
  return { ms: median(samples), plan, rows };
}

const shortSql = (sql: string) => sql.replace(/`main`\.`OpLog`\./g, '').replace(/`/g, '').replace(/SELECT .*? FROM/, (m) => (m.length > 60 ? 'SELECT <columns> FROM' : m));

// ---- what-if: the same statements on a copy of the database, today vs with a query change or a new index

const OPLOG_SELECT = 'SELECT id, at, userId, userName, ip, action, project, target, result, detail, jobId FROM OpLog';
const SEARCH_LIKE = "(userName LIKE ('%' || ? || '%') OR action LIKE ('%' || ? || '%') OR project LIKE ('%' || ? || '%') OR " +
  "target LIKE ('%' || ? || '%') OR detail LIKE ('%' || ? || '%') OR ip LIKE ('%' || ? || '%'))";
/** Prisma's count(): a sub-select, which keeps SQLite from its fast whole-table count. */
const prismaCount = (where: string) => `SELECT COUNT(*) AS n FROM (SELECT id FROM OpLog WHERE ${where} LIMIT -1 OFFSET 0) AS sub`;
const six = (q: string) => [q, q, q, q, q, q];
const ftsPhrase = (q: string) => `"${q.replace(/"/g, '""')}"`;

async function whatIf(dbFile: string, work: string): Promise<string> {
  const copy = path.join(work, 'whatif.db');
  const source = new Database(dbFile, { readonly: true });
  await source.backup(copy);
  source.close();
  const db = new Database(copy);
  const timeSql = (sql: string, params: unknown[]) => {
    const stmt = db.prepare(sql);
    const samples: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = now();
      stmt.all(...params);
      samples.push(now() - t0);
    }
    return median(samples);
  };
  const rows: string[][] = [];
  const compare = (label: string, today: [string, unknown[]], changed: [string, unknown[]], change: string) => {
    rows.push([label, ms(timeSql(...today)), ms(timeSql(...changed)), change]);
  };
  const sizeMiB = () => {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const { n } = db.prepare('SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()').get() as { n: number };
    return n / 1024 / 1024;
  };
  const sizeBefore = sizeMiB();

  // Query changes only (no schema change).
  compare('total count (every request, twice without filters)', [prismaCount('1=1'), []], ['SELECT COUNT(*) AS n FROM OpLog', []],
    'raw SELECT COUNT(*) FROM OpLog; reuse it as recordsFiltered when no filter');
  compare('sort userName asc, offset 100,000', [`${OPLOG_SELECT} ORDER BY userName ASC, id ASC LIMIT 50 OFFSET 100000`, []],
    [`${OPLOG_SELECT} ORDER BY userName ASC, at ASC, id ASC LIMIT 50 OFFSET 100000`, []], 'tie-break on at, then id (matches @@index([userName, at]))');
  compare('sort project asc, page 1', [`${OPLOG_SELECT} ORDER BY project ASC, id ASC LIMIT 50 OFFSET 0`, []],
    [`${OPLOG_SELECT} ORDER BY project ASC, at ASC, id ASC LIMIT 50 OFFSET 0`, []], 'same: (col, at, id) order');
  compare('search "publish" + sort action', [`${OPLOG_SELECT} WHERE ${SEARCH_LIKE} ORDER BY action ASC, id ASC LIMIT 50 OFFSET 0`, six('publish')],
    [`${OPLOG_SELECT} WHERE ${SEARCH_LIKE} ORDER BY action ASC, at ASC, id ASC LIMIT 50 OFFSET 0`, six('publish')], 'same: (col, at, id) order');
  compare('count action startsWith "publish"', [prismaCount("action LIKE (? || '%')"), ['publish']],
    [prismaCount('action >= ? AND action < ?'), ['publish', 'publish\u{10FFFF}']], 'range instead of LIKE prefix (uses @@index([action, at]))');

  // New plain indexes.
  const resultCount: [string, unknown[]] = [prismaCount('result = ?'), ['failed']];
  const sortToday = (col: string): [string, unknown[]] => [`${OPLOG_SELECT} ORDER BY ${col} ASC, id ASC LIMIT 50 OFFSET 0`, []];
  const before = { count: timeSql(...resultCount), result: timeSql(...sortToday('result')), ip: timeSql(...sortToday('ip')), target: timeSql(...sortToday('target')) };
  let t0 = now();
  db.exec('CREATE INDEX bench_result_at ON OpLog(result, at); CREATE INDEX bench_ip_at ON OpLog(ip, at); CREATE INDEX bench_target_at ON OpLog(target, at);');
  const indexMs = now() - t0;
  const sizeIdx = sizeMiB();
  rows.push(['count result=failed', ms(before.count), ms(timeSql(...resultCount)), '@@index([result, at])']);
  for (const col of ['result', 'ip', 'target'] as const) {
    rows.push([`sort ${col} asc, page 1`, ms(before[col]), ms(timeSql(`${OPLOG_SELECT} ORDER BY ${col} ASC, at ASC, id ASC LIMIT 50 OFFSET 0`, [])), `@@index([${col}, at]) + (col, at, id) order`]);
  }

  // Global search through an FTS5 trigram index (external content: the index only, rows stay in OpLog).
  const searchToday = Object.fromEntries(['zone17-b', 'nomatch-xyz', 'publish', 'ops07'].map((q) => [q, {
    count: timeSql(prismaCount(SEARCH_LIKE), six(q)),
    page: timeSql(`${OPLOG_SELECT} WHERE ${SEARCH_LIKE} ORDER BY at DESC, id DESC LIMIT 50 OFFSET 0`, six(q)),
  }]));
  const searchSortToday = timeSql(`${OPLOG_SELECT} WHERE ${SEARCH_LIKE} ORDER BY action ASC, id ASC LIMIT 50 OFFSET 0`, six('publish'));
  t0 = now();
  db.exec(`CREATE VIRTUAL TABLE OpLog_search USING fts5(userName, action, project, target, detail, ip, content='OpLog', content_rowid='id', tokenize='trigram');
    INSERT INTO OpLog_search(OpLog_search) VALUES ('rebuild');`);
  const ftsMs = now() - t0;
  const sizeFts = sizeMiB();
  for (const [q, today] of Object.entries(searchToday)) {
    const count = timeSql('SELECT COUNT(*) AS n FROM OpLog_search WHERE OpLog_search MATCH ?', [ftsPhrase(q)]);
    const page = timeSql(`${OPLOG_SELECT} INDEXED BY OpLog_at_idx WHERE id IN (SELECT rowid FROM OpLog_search WHERE OpLog_search MATCH ?) ORDER BY at DESC, id DESC LIMIT 50 OFFSET 0`, [ftsPhrase(q)]);
    rows.push([`search "${q}": count + page 1`, `${ms(today.count)} + ${ms(today.page)}`, `${ms(count)} + ${ms(page)}`, 'FTS5 trigram MATCH (count; page by id IN (...) on the at index)']);
  }
  const sortedSearch = timeSql(`${OPLOG_SELECT} WHERE id IN (SELECT rowid FROM OpLog_search WHERE OpLog_search MATCH ?) ORDER BY action ASC, at ASC, id ASC LIMIT 50 OFFSET 0`, [ftsPhrase('publish')]);
  rows.push(['search "publish" + sort action', ms(searchSortToday), ms(sortedSearch), 'FTS5 id IN (...) + (action, at, id) order']);
  // What keeping the index current costs each recordOp: one more insert through a trigger.
  db.exec(`CREATE TRIGGER bench_oplog_search_ai AFTER INSERT ON OpLog BEGIN
    INSERT INTO OpLog_search(rowid, userName, action, project, target, detail, ip) VALUES (new.id, new.userName, new.action, new.project, new.target, new.detail, new.ip); END;`);
  const insert = db.prepare("INSERT INTO OpLog (at, userName, ip, action, project, target, result, detail) VALUES (?, 'ops01', '10.0.0.1', 'publish.start', 'game-01', 'job #1', 'ok', 'r1, 1 path(s) to 2 host(s)')");
  t0 = now();
  db.transaction(() => {
    for (let i = 0; i < 1000; i++) insert.run(prismaDateTime(new Date()));
  })();
  const insertMs = (now() - t0) / 1000;
  db.close();
  return [
    table(['case (SQL as Prisma sends it, on a copy of the bench database)', 'today', 'with change', 'change'], rows),
    `  3 new indexes: built in ${ms(indexMs)}, database ${sizeBefore.toFixed(1)} -> ${sizeIdx.toFixed(1)} MiB; ` +
      `FTS5 trigram index: built in ${ms(ftsMs)}, database -> ${sizeFts.toFixed(1)} MiB; insert with the FTS trigger ${ms(insertMs)} per row (in a batch)`,
  ].join('\n');
}

// ---- main

interface WebRig {
  work: string;
  dbFile: string;
  endAt: Date;
  seeded: ReturnType<typeof seedOpLog>;
  svn: SvnServer;
  dumpMs: number;
  loadMs: number;
  server: Awaited<ReturnType<typeof startFerryServer>>;
  api: HttpClient;
  browser: HttpClient;
  importDoc: object;
  importMs: number;
  imported: Awaited<ReturnType<HttpClient['request']>>;
  reimported: Awaited<ReturnType<HttpClient['request']>>;
}

/** Seeds the log, loads the big SVN tree, starts Ferry and imports the fleet. */
async function setUp(work: string, cleanups: (() => Promise<unknown>)[]): Promise<WebRig> {
  const dataDir = path.join(work, 'ferry-data');
  const dbFile = path.join(dataDir, 'ferry.db');
  mkdirSync(dataDir, { recursive: true });
  applyMigrations(dbFile, MIGRATIONS_DIR);
  step(`seeding ${ROWS.toLocaleString('en')} operation-log rows`);
  const endAt = new Date();
  const seeded = seedOpLog(dbFile, ROWS, endAt);

  step('starting svnserve and loading a dump with a directory of many files');
  const svn = await startSvnServer({ users: { builder: 'bench-svn-pass' } });
  cleanups.push(() => svn.stop());
  const dumpFile = path.join(work, 'tree.dump');
  let t = now();
  await writeDump(dumpFile, TREE_FILES);
  const dumpMs = now() - t;
  t = now();
  const loaded = await runFile('sh', ['-c', `svnadmin load --quiet "$1" < "$2"`, 'sh', svn.root, dumpFile], { timeoutMs: 600_000 });
  if (loaded.code !== 0) throw new Error(`svnadmin load failed: ${loaded.stderr}`);
  const loadMs = now() - t;

  step('starting Ferry as its own process, as `npm start` does');
  const server = await startFerryServer({
    dataDir, secretKeyHex: randomBytes(32).toString('hex'), adminPassword: ADMIN_PASSWORD, logFile: path.join(work, 'ferry-server.log'),
  });
  cleanups.push(() => server.stop());
  const tokenDb = createDb(dbFile);
  const token = await createToken({ db: tokenDb, logger: createLogger({ level: 'silent' }), secretKey: Buffer.alloc(32) }, { actor: cliActor(), ip: 'cli' }, 'admin', 'bench');
  await tokenDb.$disconnect();
  const api = new HttpClient(server.url, token);

  step(`importing ${HOSTS} hosts in project "fleet" and project "tree" through POST /api/import`);
  const importDoc = fleetImport(svn);
  t = now();
  const imported = await api.request('POST', '/api/import', { json: importDoc });
  const importMs = now() - t;
  if (imported.status !== 201) throw new Error(`import failed: HTTP ${imported.status} ${imported.text.slice(0, 500)}`);
  const reimported = await api.request('POST', '/api/import', { json: importDoc });

  const browser = new HttpClient(server.url);
  await browser.login('admin', ADMIN_PASSWORD);
  return { work, dbFile, endAt, seeded, svn, dumpMs, loadMs, server, api, browser, importDoc, importMs, imported, reimported };
}

/** HOSTS hosts in zones of 25 in project "fleet", and project "tree" on the big SVN tree. */
function fleetImport(svn: SvnServer): object {
  const groupSize = 25;
  const hostNames = Array.from({ length: HOSTS }, (_, i) => `h${String(i + 1).padStart(4, '0')}`);
  const groups: Record<string, string[]> = {};
  hostNames.forEach((h, i) => (groups[`zone-${String(Math.floor(i / groupSize) + 1).padStart(2, '0')}`] ??= []).push(h));
  return {
    credentials: [{ name: 'fleet-key', username: 'deploy', password: 'not-used-here' }],
    hosts: hostNames.map((h, i) => ({ name: h, address: `10.20.${Math.floor(i / 250)}.${(i % 250) + 1}`, credential: 'fleet-key' })),
    projects: [
      { name: 'fleet', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPassword: svn.password, deployDir: '/srv/fleet', groups },
      { name: 'tree', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPassword: svn.password, deployDir: '/srv/tree' },
    ],
  };
}

type Timed = Measured & { target: number | null };

/** Every operation-log query kind, through the page's DataTable or the API. */
async function measureLog(rig: WebRig): Promise<(Timed & { kind?: Kind })[]> {
  const results: (Timed & { kind?: Kind })[] = [];
  let draw = 0;
  for (const k of kinds(ROWS, rig.endAt)) {
    step(`measuring ${k.name}`);
    const m = await timeRuns(k.name, RUNS,
      () => (k.via === 'dt' ? rig.browser.get(dataTablesQuery(k, ++draw)) : rig.api.get(apiQuery(k))),
      (text) => {
        const body = JSON.parse(text) as { recordsFiltered?: number; filtered?: number; data?: unknown[]; rows?: unknown[] };
        return `${(body.recordsFiltered ?? body.filtered ?? 0).toLocaleString('en')} match, ${(body.data ?? body.rows ?? []).length} rows`;
      });
    results.push({ ...m, target: LOG_TARGET_MS, kind: k });
  }
  return results;
}

/** Pages around the log and the 500 hosts (no stated target; for context), and the CSV export. */
async function measurePages(rig: WebRig): Promise<{ extras: Timed[]; csvMs: number; csv: Awaited<ReturnType<HttpClient['get']>> }> {
  const { browser, api } = rig;
  const extras: Timed[] = [];
  step('measuring pages');
  extras.push({ ...(await timeRuns('GET /oplog (page + facets)', Math.min(RUNS, 10), () => browser.get('/oplog'))), target: null });
  extras.push({ ...(await timeRuns(`GET /projects/fleet/publish (${HOSTS} hosts)`, Math.min(RUNS, 10), () => browser.get('/projects/fleet/publish'), (x) => `${(x.length / 1024).toFixed(0)} KiB HTML`)), target: null });
  extras.push({ ...(await timeRuns(`GET /admin/hosts (${HOSTS} hosts)`, Math.min(RUNS, 10), () => browser.get('/admin/hosts'), (x) => `${(x.length / 1024).toFixed(0)} KiB HTML`)), target: null });
  extras.push({ ...(await timeRuns(`POST /api/import dry run (${HOSTS} hosts, unchanged)`, 3, () => api.request('POST', '/api/import?dryRun=1', { json: rig.importDoc }))), target: null });
  step('measuring CSV export (1 run)');
  const t = now();
  const csv = await browser.get('/oplog/export.csv');
  return { extras, csv, csvMs: now() - t };
}

/** The SVN tree endpoint on the big folder, and where its time goes: svn itself, Ferry's XML parse. */
async function measureTree(rig: WebRig): Promise<{ tree: Timed[]; svnSamples: number[]; parseSamples: number[]; xml: string }> {
  const { api, svn } = rig;
  step(`measuring the SVN tree endpoint on ${TREE_FILES.toLocaleString('en')} files`);
  const tree: Timed[] = [];
  tree.push({ ...(await timeRuns('tree: project root (3 entries)', RUNS, () => api.get('/api/projects/tree/tree?path='), (x) => `${(JSON.parse(x) as unknown[]).length} entries`)), target: TREE_TARGET_MS });
  tree.push({
    ...(await timeRuns(`tree: assets/ (${TREE_FILES.toLocaleString('en')} files)`, RUNS, () => api.get('/api/projects/tree/tree?path=assets'),
      (x) => `${(JSON.parse(x) as unknown[]).length} entries, ${mib(x.length)} JSON`)),
    target: TREE_TARGET_MS,
  });
  const svnArgs = ['--non-interactive', '--no-auth-cache', '--config-dir', path.join(rig.work, 'svn-cli'), '--username', svn.username, '--password-from-stdin', 'list', '--xml', `${svn.url}/trunk/assets@HEAD`];
  const svnSamples: number[] = [];
  let xml = '';
  for (let i = 0; i < 10; i++) {
    const t = now();
    const r = await runFile('svn', svnArgs, { input: `${svn.password}\n`, maxBuffer: 256 * 1024 * 1024 });
    svnSamples.push(now() - t);
    xml = r.stdout;
  }
  const parseSamples: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = now();
    parseListXml(xml, 'assets');
    parseSamples.push(now() - t);
  }
  return { tree, svnSamples, parseSamples, xml };
}

const rowsOf = (list: Timed[]) => list.map((m) => {
  const p95 = percentile(m.samples, 95);
  return [m.name, ms(median(m.samples)), ms(p95), m.target === null ? '' : `< ${ms(m.target)}`,
    m.target === null ? '' : m.status !== 200 ? 'ERROR' : p95 < m.target ? 'ok' : 'MISS', m.info];
});

/** The why: the SQL of the slow log queries, timed directly in SQLite, with their query plans. */
async function explainSlow(dbFile: string, results: (Timed & { kind?: Kind })[]): Promise<void> {
  const slow = results.filter((m) => (EXPLAIN_ALL || percentile(m.samples, 95) >= LOG_TARGET_MS) && m.kind);
  log('');
  log(`=== query plans of the ${slow.length} log quer${slow.length === 1 ? 'y' : 'ies'}${EXPLAIN_ALL ? '' : ` over ${LOG_TARGET_MS} ms p95`} (SQL captured from Prisma, timed with better-sqlite3 on the same file) ===`);
  const raw = new Database(dbFile, { readonly: true });
  const seen = new Map<string, { ms: number; plan: string[] }>();
  for (const m of slow) {
    const captured = await captureSql(dbFile, m.kind!);
    log('');
    log(`-- ${m.name}: HTTP p95 ${ms(percentile(m.samples, 95))}`);
    for (const c of captured) {
      if (!/OpLog/.test(c.sql)) continue;
      const key = `${c.sql}|${JSON.stringify(c.params)}`;
      const timing = seen.get(key) ?? sqliteTiming(raw, c);
      seen.set(key, timing);
      log(`   ${ms(timing.ms).padStart(9)}  ${shortSql(c.sql)}  params ${JSON.stringify(c.params).slice(0, 120)}`);
      for (const p of timing.plan) log(`              plan: ${p}`);
    }
  }
  raw.close();
}

async function main() {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-web-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    step(`work dir ${work}`);
    const rig = await setUp(work, cleanups);
    const results = await measureLog(rig);
    const { extras, csv, csvMs } = await measurePages(rig);
    const { tree, svnSamples, parseSamples, xml } = await measureTree(rig);
    const { seeded, endAt, dumpMs, loadMs, imported, reimported, importMs, server } = rig;

    log('');
    log('=== Ferry web benchmark ===');
    log(`machine: ${machineSummary()}; Ferry at git ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim()}`);
    log(`nproc: ${execFileSync('nproc').toString().trim()}`);
    log(execFileSync('free', ['-m']).toString().trimEnd());
    log(`seeded ${ROWS.toLocaleString('en')} OpLog rows in ${secs(seeded.ms)} (one transaction, 500-row INSERTs; at = ${prismaDateTime(seeded.firstAt)} .. ${prismaDateTime(endAt)})`);
    log(`svn: dump of ${TREE_FILES.toLocaleString('en')} files written in ${secs(dumpMs)}, svnadmin load ${secs(loadMs)}`);
    log(`POST /api/import of ${HOSTS} hosts + 2 projects: ${secs(importMs)} (HTTP ${imported.status}); the same file again: ${secs(reimported.ms)} (HTTP ${reimported.status})`);
    log(`runs per kind: ${RUNS} (+1 warm-up); /oplog/data = signed-in session as the page's DataTable sends it (length 50); API = bearer token`);
    log('');
    log(table(['operation log query', 'median', 'p95', 'target', '', 'answer'], rowsOf(results)));
    log('');
    log(table(['SVN tree', 'median', 'p95', 'target', '', 'answer'], rowsOf(tree)));
    log(`  svn list --xml alone (CLI, 10 runs): median ${ms(median(svnSamples))}, p95 ${ms(percentile(svnSamples, 95))}; ${mib(xml.length)} XML`);
    log(`  Ferry's parseListXml on that XML (in-process, 10 runs): median ${ms(median(parseSamples))}`);
    log('');
    log(table(['other pages', 'median', 'p95', '', '', 'answer'], rowsOf(extras)));
    log(`GET /oplog/export.csv (all ${ROWS.toLocaleString('en')} rows, 1 run): ${secs(csvMs)}, ${mib(csv.text.length)}, HTTP ${csv.status}`);
    log(`Ferry server RSS now ${mib(server.memory().rss)}, VmHWM ${mib(server.memory().hwm)}`);
    for (const [name, foreign] of disturbedKinds) log(`WARNING: "${name}" was measured while another test/browser process ran: ${foreign}`);

    await explainSlow(rig.dbFile, results);
    log('');
    // The what-if study (FTS5 search, (column, at, id) order, result index) led to the current query code; it runs
    // only against a database that does not have those changes yet.
    if (process.argv.includes('--what-if')) {
      log('=== what-if: candidate fixes timed on a copy of this database (src/ and prisma/ untouched) ===');
      log(await whatIf(rig.dbFile, work).catch((err: unknown) => `what-if skipped: ${String(err)}`));
    }
    log('');
    if (KEEP) log(`kept work dir ${work}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => step(`cleanup: ${String(err)}`));
    if (!KEEP) await rm(work, { recursive: true, force: true });
  }
}

runBench('bench:web', main);
