// The transport's failures in plain words: which host is at fault and a stable code. Engine steps that only need to
// recognise a failure (a command timeout in a hook, a lost connection) import this module, which does not load ssh2.
import { FerryError, type ErrorKind } from '../../lib/errors.ts';

export type TransportErrorCode =
  | 'refused'
  | 'timeout'
  | 'dns'
  | 'unreachable'
  | 'auth'
  | 'bad-key'
  | 'host-key-changed'
  | 'handshake'
  | 'jump-forward'
  | 'connection-lost'
  | 'command-timeout'
  | 'failed';

/** How each transport failure counts in Ferry's error model (HTTP status, job messages). */
const FERRY_KIND: Record<TransportErrorCode, ErrorKind> = {
  refused: 'unreachable',
  timeout: 'unreachable',
  dns: 'unreachable',
  unreachable: 'unreachable',
  auth: 'failed',
  'bad-key': 'invalid',
  'host-key-changed': 'refused',
  handshake: 'unreachable',
  'jump-forward': 'unreachable',
  'connection-lost': 'unreachable',
  'command-timeout': 'timeout',
  failed: 'failed',
};

/** A failure to reach or use a host, in plain words. `host` names the host at fault (a jump host if it failed). */
export class TransportError extends FerryError {
  override name = 'TransportError';
  readonly host: string;
  readonly code: TransportErrorCode;
  /** Set when a jump host failed while Ferry was on its way to this target. */
  readonly jumpFor?: string;

  constructor(message: string, host: string, code: TransportErrorCode, options: { cause?: unknown; jumpFor?: string } = {}) {
    super(FERRY_KIND[code], message, { cause: options.cause });
    this.host = host;
    this.code = code;
    this.jumpFor = options.jumpFor;
  }
}

/** A command ran longer than its timeout; it was killed (its whole process group) and this is what it printed. */
export class CommandTimeoutError extends TransportError {
  override name = 'CommandTimeoutError';
  constructor(
    host: string,
    readonly timeoutMs: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`command timed out after ${formatSeconds(timeoutMs)} on ${host} and was stopped`, host, 'command-timeout');
  }
}

/** A duration as people read it in a message: "20s", "1.5s". */
export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)}s`;
}
