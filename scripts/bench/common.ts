// Shared pieces of the benchmarks: argument parsing, statistics, a spawned Ferry server
// (so its memory can be read from /proc), and a small HTTP client with a cookie jar and SSE reading.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, createWriteStream, type WriteStream } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { freePort } from '../../test/kit/svnserve.ts';
import { productionServerCommand, REPO_ROOT, type ServerCommand } from '../../test/kit/server-process.ts';

export { REPO_ROOT };

/** `--name value` / `--name=value` / `--flag`; unknown names are kept too, so callers decide what to accept. */
export function parseFlags(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags.set(arg.slice(2), argv[++i]);
    else flags.set(arg.slice(2), 'true');
  }
  return flags;
}

export function intFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number (got "${raw}")`);
  return n;
}

export const now = () => performance.now();

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export const ms = (v: number) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ms` : '-');
export const secs = (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)} s` : '-');
export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Left-aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function machineSummary(): string {
  const cpus = os.cpus();
  return `${os.type()} ${os.release()} ${os.arch()}, ${cpus.length} cores (${cpus[0]?.model.trim() ?? '?'}), ` +
    `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, node ${process.version}`;
}

/** The first line a program prints for `--version`-like arguments (some print it on stderr), or '?' without it. */
export function programVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] || '?';
}

/** Date, CPU, cores, RAM, OS, kernel and Node, one fact a line, for a benchmark's header. */
export function machineFacts(): string[] {
  const cpus = os.cpus();
  const release = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  return [
    `date: ${new Date().toISOString()}`,
    `CPU: ${cpus[0]?.model.trim() ?? '?'}, ${cpus.length} cores (${os.availableParallelism()} usable)`,
    `RAM: ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    `OS: ${/^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1] ?? os.type()}, kernel ${os.release()} ${os.arch()}`,
    `Node: ${process.version}`,
  ];
}

// ---- Ferry as its own process, started the way `npm start` starts it, so /proc/<pid>/status is the server's alone

/**
 * The server runs as `npm start` runs it (see test/kit/server-process.ts). FERRY_BENCH_SERVER=tsx runs the
 * TypeScript sources under tsx instead (no build; more memory).
 */
export function serverCommand(): ServerCommand {
  if (process.env.FERRY_BENCH_SERVER === 'tsx') return { args: ['--import', 'tsx', 'src/server.ts'], env: {}, label: 'node --import tsx src/server.ts' };
  return productionServerCommand();
}

export interface LogLine {
  time: number;
  msg?: string;
  [key: string]: unknown;
}

export interface FerryServer {
  pid: number;
  port: number;
  /** How the server was started (the `npm start` command, or tsx). */
  command: string;
  url: string;
  /** Parsed JSON log lines so far (pino, one per line). */
  logs: LogLine[];
  /** VmRSS / VmHWM in bytes, from /proc/<pid>/status. */
  memory(): { rss: number; hwm: number };
  /** Samples VmRSS every `everyMs` until the returned stop() is called; stop() gives the peak seen. */
  sampleRss(everyMs?: number): () => number;
  stop(): Promise<void>;
}

function procStatusBytes(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : NaN;
}

export async function startFerryServer(opts: { dataDir: string; secretKeyHex: string; adminPassword: string; logFile: string; logLevel?: string }): Promise<FerryServer> {
  const port = await freePort();
  const logs: LogLine[] = [];
  const logStream: WriteStream = createWriteStream(opts.logFile);
  const command = serverCommand();
  // FERRY_BENCH_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
  const extra = (process.env.FERRY_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...extra, ...command.args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env, ...command.env, PORT: String(port), HOST: '127.0.0.1', FERRY_DATA_DIR: opts.dataDir, FERRY_SECRET_KEY: opts.secretKeyHex,
      FERRY_ADMIN_PASSWORD: opts.adminPassword, LOG_LEVEL: opts.logLevel ?? 'info', NODE_ENV: 'production',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let pending = '';
  let stderr = '';
  let listening: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    logStream.write(chunk);
    pending += chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(line) as LogLine;
        logs.push(parsed);
        if (parsed.msg === 'Ferry is listening') listening();
      } catch {
        // Not JSON (the first-start banner); kept in the log file only.
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    logStream.write(chunk);
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`Ferry did not start within 60 s: ${stderr.slice(-2000)}`)), 60_000).unref());
  await Promise.race([ready, timeout, exited.then(() => { throw new Error(`Ferry exited during start-up: ${stderr.slice(-2000)}`); })]);
  const pid = child.pid!;
  let stopping: Promise<void> | null = null;
  return {
    pid, port, url: `http://127.0.0.1:${port}`, logs, command: command.label,
    memory: () => ({ rss: procStatusBytes(pid, 'VmRSS'), hwm: procStatusBytes(pid, 'VmHWM') }),
    sampleRss(everyMs = 50) {
      let peak = 0;
      const take = () => {
        try {
          peak = Math.max(peak, procStatusBytes(pid, 'VmRSS'));
        } catch {
          // The process is gone; keep what was seen.
        }
      };
      take();
      const timer = setInterval(take, everyMs);
      return () => {
        clearInterval(timer);
        take();
        return peak;
      };
    },
    stop() {
      // Once: a benchmark may stop a server itself and again in its clean-up.
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(late);
        }
        await new Promise<void>((resolve) => logStream.end(resolve));
      })();
      return stopping;
    },
  };
}

// ---- other programs

/**
 * Runs a program (stdin from `stdinFile`, else nothing) and resolves with its exit code and the last 20 kB of its
 * stdout and stderr; never rejects (a program that cannot start or outlives `timeoutMs` gives code 255).
 */
export function spawnTail(cmd: string, args: string[], opts: { stdinFile?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const stdin = opts.stdinFile ? openSync(opts.stdinFile, 'r') : 'ignore';
    const child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'], env: opts.env ?? process.env });
    if (typeof stdin === 'number') closeSync(stdin);
    let out = '';
    const keep = (c: Buffer) => (out = (out + c.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const timer = setTimeout(() => {
      out += `\n(killed after ${opts.timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 3600_000);
    child.once('error', (err) => {
      out += `\n${err.message}`;
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 255, out });
    });
  });
}

// ---- HTTP

/** A tiny cookie-jar client for signed-in page requests. */
export class HttpClient {
  private cookies = new Map<string, string>();
  constructor(readonly base: string, private readonly bearer?: string) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.bearer) h.authorization = `Bearer ${this.bearer}`;
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return h;
  }

  private keepCookies(res: Response) {
    for (const sc of res.headers.getSetCookie()) {
      const [pair] = sc.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  async request(method: string, url: string, body?: { json?: unknown; form?: Record<string, string> }): Promise<{ status: number; text: string; ms: number; res: Response }> {
    const headers = this.headers();
    let payload: string | undefined;
    if (body?.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body?.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(body.form).toString();
    }
    const t0 = now();
    const res = await fetch(`${this.base}${url}`, { method, headers, body: payload, redirect: 'manual' });
    const text = await res.text();
    const elapsed = now() - t0;
    this.keepCookies(res);
    return { status: res.status, text, ms: elapsed, res };
  }

  get(url: string) {
    return this.request('GET', url);
  }

  /** Signs in through the login form (CSRF token from the page, session cookie kept). */
  async login(username: string, password: string): Promise<void> {
    const page = await this.get('/login');
    const m = /name="csrf-token" content="([^"]+)"/.exec(page.text) ?? /name="_csrf" value="([^"]+)"/.exec(page.text);
    if (!m) throw new Error(`no CSRF token on /login (status ${page.status})`);
    const res = await this.request('POST', '/login', { form: { username, password, _csrf: m[1] } });
    if (res.status !== 302) throw new Error(`login as ${username} failed: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  }
}

export interface SseEvent {
  event: string;
  data: unknown;
  /** performance.now() when it arrived. */
  at: number;
}

/** Reads a Server-Sent Events stream until it ends; calls onEvent for each event as it arrives. */
export async function readSse(url: string, headers: Record<string, string>, onEvent: (e: SseEvent) => void): Promise<void> {
  const res = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
  if (res.status !== 200 || !res.body) throw new Error(`SSE ${url}: HTTP ${res.status} ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let sep: number;
    while ((sep = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, sep);
      buffer = buffer.slice(sep + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length === 0) continue;
      onEvent({ event, data: JSON.parse(data.join('\n')) as unknown, at: now() });
    }
  }
}

// ---- CPU accounting from /proc (Linux), in seconds

const CLK_TCK = 100;

/** Busy CPU seconds of the whole machine so far (all cores: user+nice+system+irq+softirq+steal). */
export function machineCpuSeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / CLK_TCK;
}

/** CPU seconds of one process: its own, and of its children it has waited for (e.g. svn). */
export function processCpuSeconds(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  // Fields 14-17 (utime, stime, cutime, cstime) are at 11-14 after "pid (comm) ".
  return { self: (rest[11] + rest[12]) / CLK_TCK, children: (rest[13] + rest[14]) / CLK_TCK };
}

// ---- other people's work on the same machine (tests, builds) would skew the numbers: wait for it to stop

/** Cores kept busy over `sampleMs`, by anything on the machine. */
export async function busyCores(sampleMs = 1000): Promise<number> {
  const c0 = machineCpuSeconds();
  const t0 = now();
  await new Promise((r) => setTimeout(r, sampleMs));
  return (machineCpuSeconds() - c0) / ((now() - t0) / 1000);
}

/** Command lines of running test runners and browsers that are not ours. */
export function foreignWorkload(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (/vitest|playwright|chrom(e|ium)|\beslint\b|\btsc\b/.test(cmd) && Number(pid) !== process.pid) found.push(`${pid} ${cmd.slice(0, 100)}`);
    } catch {
      // The process ended meanwhile.
    }
  }
  return found;
}

/**
 * Waits until the machine is quiet (under `threshold` busy cores and no test runner), at most `maxWaitMs`.
 * Returns the busy cores measured last, so the report can say how quiet it was.
 */
export async function waitForQuiet(label: string, opts: { threshold?: number; sampleMs?: number; maxWaitMs?: number } = {}): Promise<number> {
  const threshold = opts.threshold ?? 0.3;
  const deadline = now() + (opts.maxWaitMs ?? 20 * 60_000);
  let told = 0;
  for (;;) {
    const busy = await busyCores(opts.sampleMs ?? 1000);
    const foreign = foreignWorkload();
    if ((busy < threshold && foreign.length === 0) || now() > deadline) return busy;
    if (now() - told > 30_000) {
      process.stderr.write(`[bench] ${label}: waiting for a quiet machine (${busy.toFixed(2)} cores busy; ${foreign.length} test/browser process(es) running${foreign[0] ? `, e.g. ${foreign[0]}` : ''})\n`);
      told = now();
    }
  }
}

/** Runs a benchmark's main function and exits with its outcome (servers and timers it started are not awaited). */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`${name} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
