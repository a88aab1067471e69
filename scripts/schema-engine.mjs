#!/usr/bin/env node
// Stand-in for Prisma's native `schema-engine` binary, backed by the Wasm schema engine.
//
// Why: every Prisma 7 CLI command first downloads a native schema engine from binaries.prisma.sh, which is
// unreachable in air-gapped networks. When PRISMA_SCHEMA_ENGINE_BINARY points at an executable, the CLI
// skips the download and runs that executable instead; scripts/prisma.mjs points it here. This script
// speaks the native engine's protocol and forwards every call to @prisma/schema-engine-wasm, which reaches
// SQLite through the @prisma/adapter-better-sqlite3 driver adapter. Usage: `node scripts/prisma.mjs <args>`.
//
// Protocol (what the Prisma CLI expects from the native binary):
//   schema-engine --version      -> prints "schema-engine-wasm <version> (<engine git hash>)", exit 0
//   schema-engine [--datamodels F]... [--datasource JSON] cli <command>
//       one-shot; <command> is can-connect-to-database | create-database | drop-database; exit 0 = ok,
//       exit 1 = failure, reported as an ERROR log line {fields:{message,error_code}} on stderr (the CLI
//       skips the first stderr line).
//   schema-engine [--datamodels F]... [--datasource JSON]
//       JSON-RPC 2.0 server, one JSON object per line on stdin/stdout. Requests {id, method, params} are
//       answered {jsonrpc, id, result} or {jsonrpc, id, error:{code, message, data:{is_panic, message,
//       error_code, meta}}}. Lines without `method` are the CLI's answers to our own requests (acks of
//       `print`) and are ignored. Logs go to stderr as JSON lines {timestamp, level, fields, target}.
//   --datasource JSON is {"url": "file:/abs/ferry.db", "shadowDatabaseUrl"?: "..."}.
//
// Gaps between the Wasm engine + better-sqlite3 adapter and the native engine, bridged below (1-4 are in the
// notes, 5 was found later):
//   1. Fresh DB: the engine reads `_prisma_migrations` and turns "no such table" into a hard P1014. We answer
//      that read with an empty result instead; applyMigrations then creates the table itself, and for
//      markMigrationApplied (`migrate resolve --applied`) we create it first.
//   2. Migration scripts replayed on the shadow DB arrive as ONE multi-statement (or empty) `executeRaw`,
//      which better-sqlite3's prepare() rejects. Those go through `executeScript` (db.exec) instead.
//   3. `reset` in the Wasm engine leaves SQLite tables in place: we close the connection, delete the file
//      (and its -journal/-wal/-shm companions) and reconnect, as the native engine does.
//   4. `diff` output: the Wasm engine returns it as result.stdout; the native engine instead sends the CLI
//      a JSON-RPC `print` request {id, method:"print", params:{content}} before answering. We do the same.
//   5. `evaluateDataLoss`/`createMigration` fail on a database that was fresh or behind when `migrate dev`
//      started: they get no shadow database. We warm the engine's cache and retry (see withWarmMigrationCache).
//
// This relies on Prisma-internal interfaces: keep prisma, @prisma/* and @prisma/schema-engine-wasm at
// exactly matching versions. test/integration/prisma-migrations.test.ts fails if an upgrade breaks it.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bindMigrationAwareSqlAdapterFactory, ColumnTypeEnum } from '@prisma/driver-adapter-utils';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------------------
// Logging: JSON lines on stderr, shaped like the native engine's tracing output.

function log(level, message, extra = {}, target = 'schema_engine::logger') {
  const line = { timestamp: new Date().toISOString(), level, fields: { message, ...extra }, target };
  process.stderr.write(JSON.stringify(line) + '\n');
}

// The Wasm engine hands us its log events as JSON strings {level, fields, target}; add a timestamp.
function forwardEngineLog(raw) {
  try {
    const event = typeof raw === 'string' ? JSON.parse(raw) : raw;
    process.stderr.write(JSON.stringify({ timestamp: new Date().toISOString(), ...event }) + '\n');
  } catch {
    log('INFO', String(raw).trim());
  }
}

// ---------------------------------------------------------------------------------------------------------
// Command-line arguments.

function parseArgs(argv) {
  const args = { datamodels: [], datasource: undefined, cli: undefined, version: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version' || a === '-V') args.version = true;
    else if (a === '--datamodels') args.datamodels.push(argv[++i]);
    else if (a === '--datasource') args.datasource = JSON.parse(argv[++i]);
    else if (a === '--enabled-preview-features' || a === '--extension-types') i++; // not used by SQLite
    else if (a === 'cli') args.cli = argv[++i];
  }
  return args;
}

// Turns a Prisma SQLite URL ("file:./dev.db", "file:/abs/x.db?connection_limit=1", "file:///abs/x.db")
// into a filesystem path better-sqlite3 can open. Relative paths are resolved against our working
// directory, which the CLI sets to the folder of prisma.config.ts.
function sqlitePath(url) {
  if (!url || url === ':memory:' || url === 'file::memory:') return ':memory:';
  const noQuery = url.replace(/\?.*$/, '');
  if (noQuery.startsWith('file://')) return fileURLToPath(noQuery);
  const p = noQuery.replace(/^(file|sqlite):/, '');
  if (p === ':memory:') return p;
  return path.resolve(p);
}

const SQLITE_SIDE_FILES = ['', '-journal', '-wal', '-shm'];

function deleteDatabaseFiles(file) {
  for (const suffix of SQLITE_SIDE_FILES) fs.rmSync(file + suffix, { force: true });
}

// ---------------------------------------------------------------------------------------------------------
// The Wasm engine (wasm-bindgen output): instantiate the .wasm with its glue module as import object.

// A Rust panic surfaces in JS as `RuntimeError: unreachable`; the engine's panic hook first reports the real
// message through this global, which the wasm-bindgen glue expects to exist.
let panicMessage;
globalThis.PRISMA_WASM_PANIC_REGISTRY = {
  set_message(message) {
    panicMessage = message;
  },
};

async function loadWasmEngine() {
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const glue = await import(pathToFileURL(gluePath).href);
  const bytes = fs.readFileSync(gluePath.replace(/\.js$/, '.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  return glue; // exports SchemaEngine and version()
}

// ---------------------------------------------------------------------------------------------------------
// Driver adapter with the bridges for gaps 1-3.

const MIGRATIONS_TABLE_COLUMNS = [
  ['id', ColumnTypeEnum.Text],
  ['checksum', ColumnTypeEnum.Text],
  ['finished_at', ColumnTypeEnum.DateTime],
  ['migration_name', ColumnTypeEnum.Text],
  ['logs', ColumnTypeEnum.Text],
  ['rolled_back_at', ColumnTypeEnum.DateTime],
  ['started_at', ColumnTypeEnum.DateTime],
  ['applied_steps_count', ColumnTypeEnum.Int64],
];

// The DDL of the native SQLite connector for its bookkeeping table (src/lib/migrate.ts uses the same).
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

function isMissingMigrationsTable(error, sql) {
  if (!/\bFROM\s+[`"[]?_prisma_migrations\b/i.test(sql)) return false;
  const cause = error?.cause ?? {};
  const text = `${cause.originalMessage ?? ''} ${error?.message ?? ''}`;
  return cause.kind === 'TableDoesNotExist' || /no such table/i.test(text);
}

function isMultiOrEmptyStatementError(error) {
  const text = `${error?.cause?.originalMessage ?? ''} ${error?.cause?.message ?? ''} ${error?.message ?? ''}`;
  return /contains more than one statement|contains no statements/i.test(text);
}

// Wraps one better-sqlite3 adapter connection. `inner` can be swapped (gap 3) without the engine noticing.
class BridgedAdapter {
  constructor(inner, reconnect) {
    this.inner = inner;
    this.reconnect = reconnect;
    this.provider = inner.provider;
    this.adapterName = inner.adapterName;
    // Optional in the adapter interface: offer it only when the real connection does.
    if (inner.getConnectionInfo) this.getConnectionInfo = () => this.inner.getConnectionInfo();
  }

  async queryRaw(query) {
    try {
      return await this.inner.queryRaw(query);
    } catch (error) {
      // Gap 1: a fresh database has no `_prisma_migrations` yet; report it as empty rather than P1014.
      if (isMissingMigrationsTable(error, query.sql)) {
        return {
          columnNames: MIGRATIONS_TABLE_COLUMNS.map(([name]) => name),
          columnTypes: MIGRATIONS_TABLE_COLUMNS.map(([, type]) => type),
          rows: [],
        };
      }
      throw error;
    }
  }

  async executeRaw(query) {
    // Gap 2: an empty script, or several statements in one string, cannot be prepare()d: exec() them.
    if (query.args.length === 0 && query.sql.trim() === '') return 0;
    try {
      return await this.inner.executeRaw(query);
    } catch (error) {
      if (query.args.length === 0 && isMultiOrEmptyStatementError(error)) {
        await this.inner.executeScript(query.sql);
        return 0;
      }
      throw error;
    }
  }

  executeScript(script) {
    return this.inner.executeScript(script);
  }

  startTransaction(isolationLevel) {
    return this.inner.startTransaction(isolationLevel);
  }

  dispose() {
    return this.inner.dispose();
  }

  // Gap 3: drop the database the way the native SQLite connector does: delete the file and start over.
  async recreateDatabaseFile(file) {
    await this.inner.dispose();
    deleteDatabaseFiles(file);
    this.inner = await this.reconnect();
  }
}

function createAdapterFactory(datasource) {
  const mainFile = sqlitePath(datasource?.url);
  const shadowUrl = datasource?.shadowDatabaseUrl ? sqlitePath(datasource.shadowDatabaseUrl) : undefined;
  if (mainFile !== ':memory:') fs.mkdirSync(path.dirname(mainFile), { recursive: true });
  const base = new PrismaBetterSqlite3({ url: mainFile }, { shadowDatabaseUrl: shadowUrl });
  const mainConnections = [];
  const factory = {
    provider: base.provider,
    adapterName: base.adapterName,
    async connect() {
      const adapter = new BridgedAdapter(await base.connect(), () => base.connect());
      mainConnections.push(adapter);
      return adapter;
    },
    async connectToShadowDb() {
      return new BridgedAdapter(await base.connectToShadowDb(), () => base.connectToShadowDb());
    },
  };
  return { factory: bindMigrationAwareSqlAdapterFactory(factory), mainFile, mainConnections };
}

// ---------------------------------------------------------------------------------------------------------
// One-shot `cli` commands (used by `migrate dev`, `migrate reset` and `db push` to create/drop the DB file).

function runCliCommand(command, datasource) {
  const file = sqlitePath(datasource?.url);
  log('INFO', `Running schema-engine-wasm stand-in cli ${command}`, {}, 'schema_engine::main'); // CLI skips line 1
  try {
    switch (command) {
      case 'can-connect-to-database':
        if (file !== ':memory:' && !fs.existsSync(file)) {
          log('ERROR', `Database \`${path.basename(file)}\` does not exist at \`${file}\`.`, { error_code: 'P1003' });
          return 1;
        }
        return 0;
      case 'create-database':
        if (file !== ':memory:') {
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.closeSync(fs.openSync(file, 'a')); // an empty file is a valid, empty SQLite database
        }
        process.stdout.write(`Database '${path.basename(file)}' was successfully created.\n`);
        return 0;
      case 'drop-database':
        if (file !== ':memory:') deleteDatabaseFiles(file);
        process.stdout.write(`The database was successfully dropped.\n`);
        return 0;
      default:
        log('ERROR', `Unknown cli command: ${command}`);
        return 1;
    }
  } catch (error) {
    log('ERROR', String(error?.message ?? error), { error_code: 'P1000' });
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Gap 5: `evaluateDataLoss` and `createMigration` in the Wasm engine get no shadow-database factory. They
// only work when the schema of the migration history is already in the engine's migration-schema cache,
// which `devDiagnostic` fills for the migrations that were *applied when it ran*. On a fresh or behind
// database (fresh clone, a colleague's new migration) the cache is cold and they fail with "SQLite shadow DB
// must be provided through an external factory". `migrate dev` has applied every migration by the time it
// calls them, so `diagnoseMigrationHistory` with the shadow database (which does get the factory) computes
// and caches exactly the entry they need; then we retry once.

const COLD_CACHE_ERROR = /shadow DB must be provided through an external factory/i;

async function withWarmMigrationCache(engine, params, call) {
  try {
    return await call();
  } catch (error) {
    if (!COLD_CACHE_ERROR.test(String(error?.message)) || !params?.migrationsList) throw error;
    log('INFO', 'Warming the migration schema cache through the shadow database');
    await engine.diagnoseMigrationHistory({
      migrationsList: params.migrationsList,
      optInToShadowDatabase: true,
      filters: params.filters ?? { externalTables: [], externalEnums: [] },
    });
    return call();
  }
}

// ---------------------------------------------------------------------------------------------------------
// JSON-RPC server.

function send(message) {
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');
}

// Errors thrown by the Wasm engine are Error objects {name:"SchemaConnectorError", code:"P1012", message}.
// A panic is a WebAssembly.RuntimeError; after that the instance is unusable, so we exit with 101 like Rust.
function toRpcError(error) {
  const isPanic = error instanceof WebAssembly.RuntimeError;
  const message = isPanic && panicMessage ? panicMessage : String(error?.message ?? error);
  return {
    code: 4466,
    message: 'An error happened. Check the data field for details.',
    data: {
      is_panic: isPanic,
      message,
      error_code: typeof error?.code === 'string' ? error.code : undefined,
      meta: error?.meta ?? null,
      ...(isPanic ? { error: { message } } : {}),
    },
  };
}

let printRequestId = 0;

async function serve(args) {
  const wasm = await loadWasmEngine();
  const datamodels = args.datamodels.map((file) => [file, fs.readFileSync(file, 'utf8')]);
  const { factory, mainFile, mainConnections } = createAdapterFactory(args.datasource);
  const engine = await wasm.SchemaEngine.new(
    { datamodels: datamodels.length > 0 ? datamodels : undefined },
    forwardEngineLog,
    factory,
  );

  // Methods the native engine has that need more than a plain forward.
  const special = {
    async reset(params) {
      await engine.reset(params);
      if (mainFile === ':memory:') return {};
      for (const connection of mainConnections) await connection.recreateDatabaseFile(mainFile);
      return {};
    },
    async diff(params) {
      const result = await engine.diff(params);
      if (result.stdout) {
        // The CLI writes params.content + "\n" itself, so drop one trailing newline.
        const content = result.stdout.replace(/\n$/, '');
        send({ id: `print-${++printRequestId}`, method: 'print', params: { content } });
      }
      return { exitCode: result.exitCode };
    },
    // Gap 1, second half: `migrate resolve --applied` on a database without `_prisma_migrations` (baselining a
    // database made with `db push`) relies on the engine noticing the missing table, which gap 1 hides from it.
    // Create the table the way the native engine's baseline_initialize does, then forward.
    async markMigrationApplied(params) {
      const known = params.migrationsList?.migrationDirectories?.some((dir) => dir.path === params.migrationName);
      if (known && mainConnections[0]) await mainConnections[0].executeScript(CREATE_MIGRATIONS_TABLE);
      return engine.markMigrationApplied(params);
    },
    // Gap 5: see withWarmMigrationCache.
    evaluateDataLoss: (params) => withWarmMigrationCache(engine, params, () => engine.evaluateDataLoss(params)),
    createMigration: (params) => withWarmMigrationCache(engine, params, () => engine.createMigration(params)),
    getDatabaseVersion: (params) => engine.version(params),
    createDatabase() {
      if (mainFile !== ':memory:') fs.closeSync(fs.openSync(mainFile, 'a'));
      return { databaseName: path.basename(mainFile) };
    },
    dropDatabase() {
      if (mainFile !== ':memory:') deleteDatabaseFiles(mainFile);
      return {};
    },
  };

  async function handle(request) {
    const { id, method, params } = request;
    try {
      let result;
      if (special[method]) result = await special[method](params ?? {});
      else if (typeof engine[method] === 'function' && method !== 'free' && method !== 'constructor') {
        result = await engine[method](params ?? {});
      } else {
        send({ id, error: { code: -32601, message: `Method not found: ${method}` } });
        return;
      }
      send({ id, result: result ?? {} });
    } catch (error) {
      const rpcError = toRpcError(error);
      log('ERROR', rpcError.data.message, error?.code ? { error_code: error.code } : {});
      send({ id, error: rpcError });
      if (error instanceof WebAssembly.RuntimeError) process.exit(101);
    }
  }

  // Requests are handled one at a time, in arrival order, like the native engine's single connection.
  let queue = Promise.resolve();
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      send({ id: null, error: { code: -32700, message: 'Parse error' } });
      return;
    }
    if (typeof message.method !== 'string') return; // an ack of one of our `print` requests
    queue = queue.then(() => handle(message));
  });
  // The CLI ends stdin and immediately sends SIGTERM. Close the database cleanly either way: the engine
  // holds SQLite in EXCLUSIVE locking mode, and an unclosed connection leaves a stale `-journal` file.
  const closeAndExit = () => {
    for (const connection of mainConnections) connection.dispose().catch(() => {});
    process.exit(0);
  };
  lines.on('close', () => queue.then(closeAndExit));
  process.on('SIGTERM', closeAndExit);
}

// ---------------------------------------------------------------------------------------------------------
// Entry point.

const args = parseArgs(process.argv.slice(2));
if (args.version) {
  const wasm = await loadWasmEngine();
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(gluePath), 'package.json'), 'utf8'));
  process.stdout.write(`schema-engine-wasm ${pkg.version} (${wasm.version()})\n`);
  process.exit(0);
} else if (args.cli) {
  process.exit(runCliCommand(args.cli, args.datasource));
} else {
  log('INFO', 'Starting schema engine RPC server (schema-engine-wasm stand-in)', {}, 'schema_engine::main');
  serve(args).catch((error) => {
    log('ERROR', String(error?.stack ?? error));
    process.exit(1);
  });
}
