// Runs a local program with an argument array (never through a shell), a timeout and bounded output.
// Callers receive a RunFile so tests can inject a fake or a spy instead of monkey-patching child_process.
import { FerryError } from './errors.ts';
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';

export interface RunFileOptions {
  cwd?: string;
  /** Extra environment variables, merged over the current process environment. */
  env?: Record<string, string>;
  /** Written to the program's stdin, which is then closed. Without it, stdin is closed at once. */
  input?: string | Buffer;
  /** Kill the program (SIGTERM, then SIGKILL) and reject after this many milliseconds. Default 60 s. */
  timeoutMs?: number;
  /** Largest stdout (and, separately, stderr) kept, in bytes; more kills the program and rejects. Default 10 MiB. */
  maxBuffer?: number;
}

interface RunFileResult {
  /** Exit code; 128 + signal number when the program was killed by a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Resolves for any exit code; rejects (with ExecError) only if the program could not run to its end. */
export type RunFile = (file: string, args: readonly string[], opts?: RunFileOptions) => Promise<RunFileResult>;

type ExecFailure = 'spawn' | 'timeout' | 'maxBuffer';

/** A local program could not run to its end: missing (unavailable), too slow (timeout), or it printed too much. */
export class ExecError extends FerryError {
  readonly reason: ExecFailure;
  /** errno code for spawn failures, e.g. ENOENT when the program is not installed. */
  readonly errno?: string;
  readonly stderr: string;

  constructor(message: string, reason: ExecFailure, stderr = '', errno?: string) {
    super(reason === 'timeout' ? 'timeout' : errno === 'ENOENT' ? 'unavailable' : 'failed', message, { detail: stderr });
    this.name = 'ExecError';
    this.reason = reason;
    this.stderr = stderr;
    this.errno = errno;
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_BUFFER = 10 * 1024 * 1024;
const KILL_GRACE_MS = 2_000;

/** Collects a stream's bytes up to a limit, decoding once at the end so multi-byte characters never split. */
class BoundedSink {
  private chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    if (this.overflowed) return;
    if (this.size + chunk.length > this.limit) {
      this.overflowed = true;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  text(): string {
    return Buffer.concat(this.chunks, this.size).toString('utf8');
  }
}

export const runFile: RunFile = (file, args, opts = {}) => {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBuffer = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;

  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const stdout = new BoundedSink(maxBuffer);
    const stderr = new BoundedSink(maxBuffer);
    let failure: ExecError | null = null;
    let killTimer: NodeJS.Timeout | undefined;

    // Fail at once (a grandchild may hold the pipes open long after), and make sure the program dies.
    const stop = (error: ExecError): void => {
      if (failure) return;
      failure = error;
      clearTimeout(timer);
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
      child.stdout.destroy();
      child.stderr.destroy();
      reject(new ExecError(error.message, error.reason, stderr.text()));
    };

    const limit = timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`;
    const timer = setTimeout(() => stop(new ExecError(`${file} did not finish within ${limit}`, 'timeout')), timeoutMs);

    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      if (stdout.overflowed) stop(new ExecError(`${file} printed more than ${maxBuffer} bytes`, 'maxBuffer'));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      if (stderr.overflowed) stop(new ExecError(`${file} printed more than ${maxBuffer} bytes of errors`, 'maxBuffer'));
    });

    // The program may exit without reading its stdin (EPIPE); its exit code tells what happened.
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();

    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (failure) return;
      const message = err.code === 'ENOENT' ? `${file} is not installed or not on PATH` : `could not run ${file}: ${err.message}`;
      reject(new ExecError(message, 'spawn', stderr.text(), err.code));
    });

    child.on('exit', () => {
      if (killTimer) clearTimeout(killTimer);
    });

    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure) return;
      const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
      resolve({ code: exitCode, stdout: stdout.text(), stderr: stderr.text() });
    });
  });
};
