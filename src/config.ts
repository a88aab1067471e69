// One typed configuration object, read from the environment and validated at start-up (not on import).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
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
  /** Base of the links in notifications (job pages), without a trailing slash. */
  publicUrl: string;
  /** The SMTP server e-mail notification channels send through; null when none is configured. */
  smtp: SmtpConfig | null;
}

export interface SmtpConfig {
  /** smtp://[user:pass@]host:port or smtps://… (nodemailer's connection URL). */
  url: string;
  /** The From address of notification e-mails. */
  from: string;
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
  FERRY_PUBLIC_URL: z.string().trim().optional()
    .refine((v) => !v || /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(v), 'must be an http:// or https:// address without ? or #, e.g. https://ferry.example.com'),
  FERRY_SMTP_URL: z.string().trim().optional()
    .refine((v) => !v || /^smtps?:\/\/\S+$/.test(v), 'must start with smtp:// or smtps://, e.g. smtp://mail.example.com:25'),
  FERRY_SMTP_FROM: z.string().trim().optional()
    .refine((v) => !v || /^[^\r\n]*@[^\r\n]+$/.test(v), 'must be an e-mail address, e.g. Ferry <ferry@example.com>'),
}).refine((e) => !e.FERRY_SMTP_URL || e.FERRY_SMTP_FROM, { path: ['FERRY_SMTP_FROM'], message: 'required when FERRY_SMTP_URL is set (the sender of notification e-mails)' });

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
    publicUrl: publicUrlOf(e.FERRY_PUBLIC_URL, e.HOST, e.PORT),
    smtp: e.FERRY_SMTP_URL ? { url: e.FERRY_SMTP_URL, from: e.FERRY_SMTP_FROM ?? '' } : null,
  };
}

/**
 * Links in notifications: FERRY_PUBLIC_URL when set; otherwise http://<this machine's name>:<port> (or the listen
 * address when it is a specific one), which is right on a LAN without a proxy and wrong behind one: set it there.
 */
function publicUrlOf(configured: string | undefined, host: string, port: number): string {
  if (configured) return configured.replace(/\/+$/, '');
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const name = wildcard ? os.hostname() : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

/** API token limits: how long a token may live, how long its note may be, how often its last use is written. */
export const API_TOKEN_LIMITS = {
  /** Longest --expires / form expiry accepted (ten years). */
  maxExpiryDays: 3650,
  noteMaxLength: 100,
  /** lastUsedAt is rewritten at most this often per token, so API calls do not each cost a database write. */
  lastUsedResolutionMs: 60_000,
} as const;

// ---- Limits on what the network can make Ferry store or parse (the README's security section lists them) ----

/** Request bodies: the small limit applies everywhere before authentication; the large one only to bulk import, after the administrator check. */
export const BODY_LIMITS = {
  /** Forms and JSON API calls. */
  bytes: 64 * 1024,
  /** Bulk import (pasted text, uploaded file, POST /api/import). */
  importBytes: 5 * 1024 * 1024,
  /** Deepest nesting of arrays and objects in a JSON body. */
  jsonDepth: 64,
  /** Deepest nesting of form field names (a[b][c]...). */
  formDepth: 32,
  /** Most fields in one form (the grants page sends one per project and permission). */
  formFields: 5000,
} as const;

/** Longest value of each operation-log field; longer values are cut (and marked with "…"). */
export const OPLOG_FIELD_CHARS = {
  userName: 256,
  ip: 64,
  action: 64,
  project: 256,
  target: 256,
  detail: 4096,
} as const;

/** Failed logins: after this many within the window, logins for that user name (or from that address) are locked. */
export const LOGIN_THROTTLE = {
  perUser: 5,
  perIp: 20,
  windowSec: 15 * 60,
  blockSec: 15 * 60,
  /** Locks whose refused attempts are counted for the summary row; beyond this, refusals are not counted. */
  maxCountedLocks: 10_000,
  /** Failed logins logged one row each per minute, across all clients; beyond it they are summed in one row. */
  failedRowsPerMinute: 60,
} as const;

/**
 * Output limits. Whatever a remote command or hook prints, Ferry keeps only the last OUTPUT_TAIL_BYTES of it per host
 * (in memory, in the job record and in error messages), preceded by a line saying how much was dropped, so memory
 * and disk stay flat however much a process prints.
 */
export const OUTPUT_TAIL_BYTES = 256 * 1024;
/** Live output sent to watchers of a running job, per host and per flush interval; the rest is only counted. */
export const LIVE_OUTPUT_BYTES_PER_FLUSH = 16 * 1024;
/**
 * What Ferry's own remote commands may print and still be read whole; beyond it only the tail is kept. It bounds what
 * a misbehaving host can make Ferry hold per command and stream. Their answers are a few short `ferry:` lines per
 * step (the release programs keep every list on the host).
 */
export const COMMAND_CAPTURE_CHARS = 1024 * 1024;
/**
 * The process-level safety net (src/lib/safety-net.ts) logs an error nobody handled and keeps serving; only this many
 * within a minute make Ferry exit for its service manager to restart it, as state that breaks that often is not sound.
 */
export const UNCAUGHT_ERRORS_PER_MINUTE_BEFORE_EXIT = 20;

/** Live job events (SSE) per browser: output is skipped while this much is unsent, and the stream is cut beyond cutOffBytes. */
export const SSE_LIMITS = {
  backlogBytes: 1024 * 1024,
  cutOffBytes: 8 * 1024 * 1024,
} as const;

/**
 * Upload progress (bytes sent per host) on the job stream: the engine reports each host at most once per
 * hostIntervalMs (plus its final count); the recorder sends live watchers at most hostsPerTick hosts' latest counts
 * every tickMs (the hosts waiting longest first), so 64 hosts make at most 64 small events a second, never a queue.
 * A host's phase timeline keeps at most timelineEntries phase changes.
 */
export const PROGRESS_LIMITS = {
  hostIntervalMs: 250,
  tickMs: 250,
  hostsPerTick: 16,
  timelineEntries: 32,
} as const;

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
  /** How long a previewed import can still be applied; after that it must be uploaded again. */
  previewTtlMs: 30 * 60_000,
} as const;

/** Process jobs (start, stop, restart, status) of one project wait in a queue instead of all running at once. */
export const JOB_QUEUE = {
  /** Process jobs of one project that may run at the same time; the rest wait as "queued". */
  processJobsPerProject: 1,
  /** Waiting process jobs per project beyond which a new one is refused (429). */
  maxQueuedPerProject: 20,
} as const;

/** Publishing in waves: how the gate between waves polls the chosen process's status, and the limits of the settings. */
export const WAVES = {
  /** Seconds the status check may keep failing after the restart before the wave counts as failed. */
  statusTimeoutSeconds: 60,
  maxStatusTimeoutSeconds: 3600,
  /** Between two polls of the status command. */
  statusPollMs: 2000,
  /** A timed pause between waves: at most a day (longer waits are what "wait for Continue" is for). */
  maxPauseSeconds: 86_400,
} as const;

/**
 * Operational defaults, the one place each is set: the admin forms, the bulk import and the engine read them from here,
 * and prisma/schema.prisma's @default values must equal them (a unit test compares the two).
 */
export const DEFAULTS = {
  /** Snapshots kept per host and project (older ones are pruned after each publish). */
  keepSnapshots: 10,
  /** Hosts a job works on at once. */
  concurrency: 10,
  /** A hook script is stopped after this many seconds. */
  hookTimeoutSec: 300,
  /** An approval request nobody decided lapses after this many hours. */
  approvalHours: 24,
  /** SSH port of a new host. */
  sshPort: 22,
  /** Giving up on reaching a host (TCP connect plus SSH handshake and login), per hop. */
  sshConnectTimeoutMs: 15_000,
  /** SSH keepalive probes on open connections; a dead peer is noticed after a few missed ones. */
  sshKeepaliveIntervalMs: 10_000,
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
  /** Up to 30 days. */
  approvalHours: { min: 1, max: 720 },
  /** Notification channels: endpoint URL, signing secret, e-mail recipients. */
  notifyUrl: 2000,
  notifySecret: 500,
  notifyTo: 1000,
  userPasswordMin: 8,
} as const;

/**
 * Ferry's own short commands on a host outside a step's timeout (pruning old snapshots after a publish, checking the
 * snapshots before a rollback). A host that never closes the channel would otherwise hold the project's publish lock
 * for ever; after this the command fails with a timeout and the job finishes.
 */
export const MAINTENANCE_COMMAND_TIMEOUT_MS = 5 * 60_000;

/** After SIGTERM/SIGINT Ferry exits within this time even if closing connections or recording jobs hangs. */
export const SHUTDOWN_DEADLINE_MS = 10_000;

/**
 * Notification delivery (src/services/notify/): a message is retried after each of these delays, then given up
 * (so at most retryDelaysMs.length + 1 attempts); each attempt is cut off after timeoutMs.
 */
export const NOTIFY_DELIVERY = {
  retryDelaysMs: [30_000, 2 * 60_000, 10 * 60_000, 60 * 60_000] as readonly number[],
  timeoutMs: 10_000,
  /** Messages being sent at once, across all channels. */
  concurrency: 4,
  /** How often the queue is checked for messages whose retry is due (new messages are sent at once). */
  pollMs: 5_000,
  /** Of a receiver's answer only this much is read (enough for a robot's {"errcode":…} or an error page's start). */
  responseBytes: 16 * 1024,
  /** Sent and given-up messages are kept this long for the record, and at most keepRows of them. */
  keepMs: 7 * 24 * 3600_000,
  keepRows: 5_000,
  /** Channels per project (the form and the import refuse more). */
  maxChannelsPerProject: 20,
};

// ---- Relays (store-and-forward vs tunnel) ----
/**
 * In relay mode `auto`, hosts behind one relay are tunnelled (Ferry streams the package to each through the relay)
 * while package bytes × those hosts stay below this; above it the package crosses the link to the relay once and the
 * relay's ssh runs each host's program. Measured with `npm run bench:publish` (README, Performance).
 */
export const RELAY_TUNNEL_MAX_BYTES = 16 * 1024 * 1024;

// ---- Release source cache (working copies and packages) ----
/**
 * The release source cache under <FERRY_DATA_DIR>/cache (src/deploy/source.ts): one sparse SVN working copy per project
 * in svn/, so a publish fetches only what changed since the project's last one, and the packages built from them in
 * packages/, reused when the same SVN URL, revision and selection is published again (another group of hosts, a
 * retry). Beyond these limits the least recently used are deleted, never one a running job is using. Deleting the
 * whole directory while no job runs is always safe: it is rebuilt on demand.
 */
export const RELEASE_CACHE = {
  /** Total size of the cached packages. A package larger than this is still used, then deleted. */
  packageBytes: 2 * 1024 ** 3,
  /** Most cached packages. */
  packageEntries: 100,
  /** A cached package nobody used for this long is deleted. */
  packageMaxIdleMs: 7 * 24 * 3600_000,
  /** Most projects with a working copy. */
  workingCopies: 20,
  /** Total size of the working copies; each holds its files twice (svn keeps a pristine copy of every file). */
  workingCopyBytes: 20 * 1024 ** 3,
} as const;

// ---- SVN tree listings (publish page) ----
/**
 * The tree API (src/services/tree-listing.ts) pages big folders: one `svn list` per folder and revision is kept this
 * long, so that paging and filtering a 20,000-file folder does not ask the SVN server again; bounded by the number of
 * entries held in all cached listings together.
 */
export const TREE_LISTING = {
  /** Entries per page when the caller pages without saying how many. */
  defaultLimit: 200,
  maxLimit: 2000,
  /** How long a listing is reused. HEAD listings are reused too: a commit shows up after at most this long. */
  cacheMs: 60_000,
  /** Entries held in all cached listings together; a bigger listing is answered but not kept. */
  cacheEntries: 200_000,
} as const;

/** Preview, drift checks and host diffs (src/deploy/inspect.ts, preview.ts): the operator waits for these answers. */
export const HOST_CHECK = {
  /** Connecting to a host for a check. */
  connectTimeoutMs: 8_000,
  /** The one command that hashes the listed files on a host (or fetches one file). */
  commandTimeoutMs: 20_000,
  /** Most bytes of a host's file fetched for a diff; bigger files show sizes and hashes only. */
  fetchMaxBytes: 1024 * 1024,
  /** Above this many files the preview reads a host's whole record instead of naming each path in the query. */
  recordQueryPaths: 5000,
} as const;
