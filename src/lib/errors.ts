// Ferry's one error model. A FerryError carries a message written for the operator and a kind; the kind alone decides
// the HTTP status (httpStatusOf) and how a job or host shows it (operatorMessage). Anything that is not a FerryError is
// a bug or an unforeseen failure: it is logged with its stack and the user sees "internal error" with an id to find it.
import { randomBytes } from 'node:crypto';
import { fill, tk, type MessageParams } from './messages.ts';

export type ErrorKind =
  /** The input is wrong (a form field, a file list, an import document). */
  | 'invalid'
  /** Not logged in, or the credentials are wrong. */
  | 'unauthenticated'
  /** Logged in, but not allowed; or a safety rule refuses (a link out of the deploy directory, a changed host key). */
  | 'refused'
  | 'not-found'
  /** The state does not allow it now: a job already runs, the name is taken, the record changed meanwhile. */
  | 'conflict'
  | 'too-large'
  | 'unsupported'
  /** Too many requests or queued jobs: try again later. */
  | 'busy'
  /** Ferry itself cannot do it now (shutting down, a local tool is missing). */
  | 'unavailable'
  /** A host, relay or SVN server could not be reached or logged in to. */
  | 'unreachable'
  /** Something outside Ferry failed: a remote command, svn, a hook script. */
  | 'failed'
  /** A step ran out of time. */
  | 'timeout';

const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  refused: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  unsupported: 415,
  busy: 429,
  unavailable: 503,
  unreachable: 502,
  failed: 502,
  timeout: 504,
};

export interface FerryErrorOptions {
  /** Field-level validation messages, keyed by form field / import path. */
  fields?: Record<string, string>;
  /** Technical detail for the server log (a tool's stderr); never shown to users. */
  detail?: string;
  cause?: unknown;
  /**
   * Values of the message's {{placeholders}}: the message is then an English message key (marked with tk()), shown
   * translated in the user's language and filled in English in logs and the operation log.
   */
  params?: MessageParams;
  /** Names of params that are message keys themselves ("That project"), translated before being filled in. */
  keyParams?: readonly string[];
}

export class FerryError extends Error {
  readonly fields?: Record<string, string>;
  readonly detail?: string;
  /** The message key (the English template) and its values, for showing the message in the user's language. */
  readonly template: string;
  readonly params?: MessageParams;
  readonly keyParams?: readonly string[];
  /**
   * The HTTP status for this kind of error. A plain property, not a getter: http-errors (used by body-parser for errors
   * thrown in its `verify` hook) assigns `status` on the errors it passes on.
   */
  status: number;

  constructor(
    public readonly kind: ErrorKind,
    message: string,
    opts: FerryErrorOptions = {},
  ) {
    super(fill(message, opts.params), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.template = message;
    this.params = opts.params;
    this.keyParams = opts.keyParams;
    this.name = 'FerryError';
    this.fields = opts.fields;
    this.detail = opts.detail;
    this.status = httpStatusOf(kind);
  }
}

export const httpStatusOf = (kind: ErrorKind): number => HTTP_STATUS[kind];

export const badRequest = (message: string, fields?: Record<string, string>) => new FerryError('invalid', message, { fields });
export const forbidden = (message = tk('You do not have permission to do that.')) => new FerryError('refused', message);
/** `what` is a message key naming the thing: notFound('That project'). */
export const notFound = (what = tk('That page')) => new FerryError('not-found', tk('{{what}} does not exist.'), { params: { what }, keyParams: ['what'] });
export const conflict = (message: string) => new FerryError('conflict', message);

/** What the operator reads for a failure that is not a FerryError: where to look, never the raw internal message. */
export function internalErrorMessage(errorId: string): string {
  return fill(INTERNAL_ERROR, { errorId });
}
export const INTERNAL_ERROR = tk('Internal error, see the server log (error id {{errorId}}).');

type Translate = (key: string, params?: Record<string, unknown>) => string;

/** A FerryError's message in the language of `t` (its English text when the key has no translation). */
export function translateError(err: FerryError, t: Translate): string {
  if (!err.params) return t(err.template);
  const params: Record<string, unknown> = { ...err.params };
  for (const name of err.keyParams ?? []) if (typeof params[name] === 'string') params[name] = t(params[name]);
  return t(err.template, params);
}

/** A short id that ties a message shown to a user to the server log entry with the stack. */
export const newErrorId = (): string => randomBytes(4).toString('hex');

interface ErrorLogger {
  error(obj: object, msg: string): void;
}

/**
 * The message a job, a host row or an import result shows for `err`: a FerryError's own message; anything else is
 * logged with its stack (and `context`) and becomes "internal error" with an id to find that log entry.
 */
export function operatorMessage(err: unknown, logger: ErrorLogger, context: object = {}): string {
  if (err instanceof FerryError) return err.message;
  const errorId = newErrorId();
  logger.error({ ...context, err, errorId }, 'unexpected error');
  return internalErrorMessage(errorId);
}
