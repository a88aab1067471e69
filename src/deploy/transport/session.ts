// Runs shell commands over an open connection chain: environment prefix, timeout and stop (the whole process group is
// killed), live output, bounded output capture, streamed stdin; a dropped connection fails every running command.
import { constants as osConstants } from 'node:os';
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Client as SshClient, ClientChannel } from 'ssh2';
import { COMMAND_CAPTURE_CHARS } from '../../config.ts';
import { OutputTail } from '../output-tail.ts';
import { envPrefix } from '../remote.ts';
import type { ExecOptions, ExecResult, RemoteSession } from '../types.ts';
import { closeConnections, type Connection } from './connect.ts';
import { CommandTimeoutError, TransportError } from './errors.ts';
import { PID_MARK, PidLineFilter } from './pid-line.ts';
import { SocketGate, socketOf } from './socket-gate.ts';

/** After a command exits, wait this long for its channel to close (a stray background job may hold stdout). */
const CLOSE_GRACE_MS = 2_000;

export class SshSession implements RemoteSession {
  private lost: TransportError | null = null;
  private closing = false;
  /** Rejecters of running commands and uploads, called when the connection drops. */
  private readonly aborters = new Set<(err: TransportError) => void>();

  constructor(
    readonly hostName: string,
    private readonly chain: Connection[],
  ) {
    const onLost = (err?: Error) => {
      if (this.lost) return;
      const why = this.closing ? `the session to ${hostName} is closed` : `connection to ${hostName} was lost${err ? `: ${err.message}` : ''}`;
      this.lost = new TransportError(why, hostName, 'connection-lost', { cause: err });
      for (const abort of [...this.aborters]) abort(this.lost);
    };
    this.client.on('error', onLost);
    this.client.on('close', () => onLost());
  }

  private get client(): SshClient {
    return this.chain[this.chain.length - 1].client;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.lost) return Promise.reject(this.lost);
    const nonce = randomBytes(8).toString('hex');
    let script: string;
    try {
      script = `printf '${PID_MARK}${nonce}:%s\\n' "$$" >&2; ${envPrefix(opts.env)}${command}`;
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<ExecResult>((resolve, reject) => {
      const captureLimit = opts.captureChars ?? COMMAND_CAPTURE_CHARS;
      const stdout = new OutputTail(captureLimit);
      const stderr = new OutputTail(captureLimit);
      const stdoutText = new StringDecoder('utf8');
      const stderrText = new StringDecoder('utf8');
      const pidLine = new PidLineFilter(nonce);
      let exitCode: number | null = null;
      let timedOut = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;

      const emitStdout = (text: string) => {
        if (!text) return;
        stdout.push(text);
        opts.onOutput?.(text, 'stdout');
      };
      const emitStderr = (text: string) => {
        if (!text) return;
        stderr.push(text);
        opts.onOutput?.(text, 'stderr');
      };
      const flush = () => {
        emitStdout(stdoutText.end());
        emitStderr(pidLine.push(stderrText.end()));
        emitStderr(pidLine.end());
      };
      let stopListening = () => {};
      let stopInput = () => {};
      const settle = (finish: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        stopListening();
        stopInput();
        this.aborters.delete(abort);
        finish();
      };
      const abort = (err: TransportError) => settle(() => reject(err));
      this.aborters.add(abort);

      this.client.exec(script, (err, channel) => {
        if (err) return abort(new TransportError(`could not start a command on ${this.hostName}: ${err.message}`, this.hostName, 'failed', { cause: err }));
        if (settled) return channel.close();

        const completed = () => {
          if (timedOut) return;
          flush();
          if (exitCode === null) {
            // No exit status: the channel was torn down, usually because the connection is going away.
            setImmediate(() => abort(this.lost ?? new TransportError(`a command on ${this.hostName} ended without an exit status`, this.hostName, 'connection-lost')));
            return;
          }
          const code = exitCode;
          settle(() => resolve({ code, stdout: stdout.text(), stderr: stderr.text() }));
        };

        channel.on('data', (chunk: Buffer) => emitStdout(stdoutText.write(chunk)));
        channel.stderr.on('data', (chunk: Buffer) => emitStderr(pidLine.push(stderrText.write(chunk))));
        channel.on('exit', (code: number | null, signal?: string) => {
          exitCode = code ?? exitCodeOfSignal(signal);
          graceTimer = setTimeout(() => {
            channel.close();
            completed();
          }, CLOSE_GRACE_MS);
        });
        channel.on('close', completed);
        // Errors on a channel are the host's doing; the command's result says what happened.
        channel.on('error', () => undefined);
        channel.stderr.on('error', () => undefined);

        /** Stops the command (its whole process group) and fails with what `why` makes of its output so far. */
        const stop = (why: () => Error) => {
          if (settled || timedOut) return;
          timedOut = true;
          flush();
          void this.stopCommand(channel, pidLine.pid).finally(() => settle(() => reject(why())));
        };
        if (opts.timeoutMs && opts.timeoutMs > 0) {
          const timeoutMs = opts.timeoutMs;
          timer = setTimeout(() => stop(() => new CommandTimeoutError(this.hostName, timeoutMs, stdout.text(), stderr.text())), timeoutMs);
        }
        const signal = opts.signal;
        if (signal) {
          const onAbort = () => stop(() => (signal.reason instanceof Error ? signal.reason : new TransportError(`a command on ${this.hostName} was stopped`, this.hostName, 'failed')));
          if (signal.aborted) onAbort();
          else {
            signal.addEventListener('abort', onAbort, { once: true });
            stopListening = () => signal.removeEventListener('abort', onAbort);
          }
        }

        const input = opts.stdin;
        if (input === undefined) channel.end();
        else if (typeof input === 'string' || Buffer.isBuffer(input)) channel.end(input);
        else {
          input.once('error', (inputErr) => {
            channel.close();
            abort(new TransportError(`reading the input of a command for ${this.hostName} failed: ${inputErr.message}`, this.hostName, 'failed', { cause: inputErr }));
          });
          // Through the gate: ssh2 would otherwise hold up to two channel windows per host in memory (socket-gate.ts).
          const gate = new SocketGate(channel, this.chain.flatMap((hop) => socketOf(hop.client) ?? []), opts.onStdinSent);
          gate.on('error', () => undefined);
          input.pipe(gate);
          // A command that ends before reading all its input (it refused, or failed early) stops the input too.
          stopInput = () => {
            input.unpipe(gate);
            input.destroy();
            gate.destroy();
          };
        }
      });
    });
  }

  /**
   * Stops a command that ran too long: TERM to its whole process group, KILL a second later, then close the channel.
   * Only a pid from this command's own marker is used, and never one below 2 (`kill -- -1` would hit every process
   * of the user).
   */
  private async stopCommand(channel: ClientChannel, pid: number | null): Promise<void> {
    try {
      channel.signal('TERM');
    } catch {
      // Old servers do not support signals; killing the process group below does the work.
    }
    if (pid !== null && Number.isSafeInteger(pid) && pid >= 2 && !this.lost) {
      const group = `-${pid}`;
      await this.exec(`kill -s TERM -- ${group} 2>/dev/null || exit 0; sleep 1; kill -s KILL -- ${group} 2>/dev/null; exit 0`, { timeoutMs: 10_000 }).catch(() => undefined);
    }
    channel.close();
  }

  async close(): Promise<void> {
    this.closing = true;
    await closeConnections(this.chain);
  }
}

function exitCodeOfSignal(signal: string | undefined): number {
  if (!signal) return 255;
  const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as keyof typeof osConstants.signals;
  const number = osConstants.signals[name];
  return typeof number === 'number' ? 128 + number : 255;
}
