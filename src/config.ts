// One typed configuration object, read from the environment and validated at start-up (not on import).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The Ferry directory (holds package.json, views/, prisma/), both under tsx (src/) and compiled (dist/src/). */
export const APP_ROOT = findAppRoot(import.meta.dirname);

function findAppRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'views'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the Ferry directory above ${from}`);
  }
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  dbFile: string;
  migrationsDir: string;
  /** 32-byte AES key for secrets at rest. */
  secretKey: Buffer;
  /** Where the key came from, for the start-up log (never the key itself). */
  secretKeySource: 'env' | 'file' | 'new-file';
  sessionSecret: string;
  adminPassword?: string;
  logLevel: string;
  /** Set the Secure flag on cookies (enable behind HTTPS). */
  cookieSecure: boolean;
  /** Number of reverse proxies in front of Ferry whose X-Forwarded-For is trusted (0: none). */
  trustProxy: number;
  sessionMaxAgeHours: number;
}

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  FERRY_DATA_DIR: z.string().default('data'),
  FERRY_SECRET_KEY: z.string().optional(),
  FERRY_ADMIN_PASSWORD: z.string().min(8, 'FERRY_ADMIN_PASSWORD must have at least 8 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FERRY_COOKIE_SECURE: z.enum(['0', '1', 'true', 'false']).default('0'),
  FERRY_TRUST_PROXY: z.string().regex(/^(\d+|true|false)$/, 'must be a number of proxies (0, 1, 2...)').default('0'),
  FERRY_SESSION_HOURS: z.coerce.number().positive().default(12),
});

const truthy = (v: string) => v === '1' || v === 'true';

/** Accepts 64 hex characters or base64 of 32 bytes; anything else is stretched with SHA-256 (a passphrase). */
function keyFromEnv(value: string): Buffer {
  if (/^[0-9a-f]{64}$/i.test(value)) return Buffer.from(value, 'hex');
  const b64 = Buffer.from(value, 'base64');
  if (b64.length === 32) return b64;
  return crypto.createHash('sha256').update(value, 'utf8').digest();
}

function loadOrCreateKeyFile(file: string): { key: Buffer; created: boolean } {
  if (fs.existsSync(file)) {
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
    return { key, created: false };
  }
  const key = crypto.randomBytes(32);
  // 'wx' refuses to overwrite a key that appeared meanwhile; 0600 keeps it private to the service user.
  fs.writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return { key, created: true };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  // Relative paths are taken from the Ferry directory, not the current directory, so a service started elsewhere
  // (e.g. systemd without WorkingDirectory) still finds its database and key.
  const dataDir = path.resolve(APP_ROOT, e.FERRY_DATA_DIR);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  let secretKey: Buffer;
  let secretKeySource: Config['secretKeySource'];
  if (e.FERRY_SECRET_KEY) {
    secretKey = keyFromEnv(e.FERRY_SECRET_KEY);
    secretKeySource = 'env';
  } else {
    const { key, created } = loadOrCreateKeyFile(path.join(dataDir, 'secret.key'));
    secretKey = key;
    secretKeySource = created ? 'new-file' : 'file';
  }

  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    dbFile: path.join(dataDir, 'ferry.db'),
    migrationsDir: path.join(APP_ROOT, 'prisma', 'migrations'),
    secretKey,
    secretKeySource,
    sessionSecret: crypto.createHmac('sha256', secretKey).update('ferry-session-cookie').digest('base64'),
    adminPassword: e.FERRY_ADMIN_PASSWORD,
    logLevel: e.LOG_LEVEL,
    cookieSecure: truthy(e.FERRY_COOKIE_SECURE),
    // Only the given number of hops is trusted, so a client cannot forge its address with its own X-Forwarded-For.
    trustProxy: e.FERRY_TRUST_PROXY === 'true' ? 1 : e.FERRY_TRUST_PROXY === 'false' ? 0 : Number(e.FERRY_TRUST_PROXY),
    sessionMaxAgeHours: e.FERRY_SESSION_HOURS,
  };
}

/** Paging of the history, the operation log and their APIs: larger or odd values are clamped, never an error. */
export const PAGING = {
  defaultLength: 25,
  /** Rows per page of the DataTables views and /api/logs. */
  maxLength: 500,
  maxApiLength: 1000,
  /** An offset past this is treated as this (the page is simply empty); keeps every value a safe SQL integer. */
  maxOffset: 1_000_000_000,
  /** Search text is cut to this many characters. */
  maxSearchLength: 200,
} as const;

/** Import files (upload page, API, CLI): refused beyond these, before anything is compared or written. */
export const IMPORT_LIMITS = {
  maxFileChars: 5_000_000,
  /** YAML alias expansions per document ("billion laughs" guard). */
  maxAliasCount: 100,
  /** Nesting levels of the decoded document; a real import file uses about six. */
  maxDepth: 32,
} as const;

/** Process jobs (start, stop, restart, status) of one project wait in a queue instead of all running at once. */
export const JOB_QUEUE = {
  /** Process jobs of one project that may run at the same time; the rest wait as "queued". */
  processJobsPerProject: 1,
  /** Waiting process jobs per project beyond which a new one is refused (429). */
  maxQueuedPerProject: 20,
} as const;

/**
 * Lengths and ranges of configuration values, the same for the admin forms and the bulk import
 * (src/services/config/rules.ts turns them into the one validation both use).
 */
export const FIELD_LIMITS = {
  name: 64,
  username: 100,
  address: 255,
  description: 500,
  svnUrl: 1000,
  svnUsername: 200,
  path: 500,
  password: 1024,
  privateKey: 20_000,
  hostKey: 20_000,
  command: 4000,
  script: 100_000,
  port: { min: 1, max: 65_535 },
  keepSnapshots: { min: 1, max: 100 },
  concurrency: { min: 1, max: 100 },
  hookTimeoutSec: { min: 1, max: 86_400 },
  userPasswordMin: 8,
} as const;
