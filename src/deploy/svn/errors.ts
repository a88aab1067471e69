// svn's failures as errors an operator can act on: stderr's E-codes classified (wrong password, unreachable server,
// missing path or revision...) into an SvnError with a plain message; svn's own words stay in `detail` for the log.
import { FerryError, type ErrorKind } from '../../lib/errors.ts';
import { fill, tk, type MessageParams } from '../../lib/messages.ts';
import { PROJECT_ROOT } from '../selection.ts';
import type { SvnRevision } from './types.ts';

export type SvnErrorKind =
  | 'auth'
  | 'access-denied'
  | 'certificate'
  | 'no-such-revision'
  | 'not-found'
  | 'unreachable'
  | 'timeout'
  | 'local-disk'
  | 'not-installed'
  | 'bad-input'
  | 'unknown';

/** How each svn failure counts in Ferry's error model (HTTP status, job messages). */
const FERRY_KIND: Record<SvnErrorKind, ErrorKind> = {
  auth: 'failed',
  'access-denied': 'failed',
  certificate: 'failed',
  'no-such-revision': 'not-found',
  'not-found': 'not-found',
  unreachable: 'unreachable',
  timeout: 'timeout',
  'local-disk': 'unavailable',
  'not-installed': 'unavailable',
  'bad-input': 'invalid',
  unknown: 'failed',
};

export class SvnError extends FerryError {
  /** What svn said went wrong, more precisely than the FerryError kind. */
  readonly reason: SvnErrorKind;
  /** svn's own words (trimmed stderr), for the log and a "details" section; never contains the password. */
  declare readonly detail: string;
  /** Error codes svn printed, e.g. ['E170013', 'E170001']. */
  readonly svnCodes: string[];

  /** `message`: English text, or a message key with the values of its placeholders (shown in the user's language). */
  constructor(reason: SvnErrorKind, message: string | SvnMessage, detail = '', svnCodes: string[] = []) {
    const msg = typeof message === 'string' ? { key: message } : message;
    super(FERRY_KIND[reason], msg.key, { detail, params: msg.params, keyParams: msg.keyParams });
    this.name = 'SvnError';
    this.reason = reason;
    this.svnCodes = svnCodes;
  }
}

// svn error codes (svn_error_codes.h, plus APR/OS errno as E000xxx and resolver errors as E670xxx), most specific first:
// svn wraps the cause in generic ones such as E170013 "Unable to connect".
const ERROR_CODES: [SvnErrorKind, RegExp][] = [
  ['auth', /^E(170001|215004|215000|170006)$/],
  ['access-denied', /^E(220001|175013|000013)$/],
  ['certificate', /^E(230001|170008)$/],
  ['no-such-revision', /^E160006$/],
  ['not-found', /^[EW](170000|160013|195012|200009|210005|175007|160005)$/],
  ['unreachable', /^E(000111|000110|000113|000101|000104|000032|210002|210003|175012|120108|120171|670\d{3}|170013)$/],
  ['local-disk', /^E(000028|000030)$/],
];

export interface ErrorContext {
  /** What we were doing, e.g. 'list' or 'export'. */
  action: string;
  /** Project-relative path involved, if any. */
  path?: string;
  revision?: SvnRevision;
}

const MAX_DETAIL = 2000;

/** An operator message as a message key, the values of its placeholders, and which of them are keys themselves. */
export interface SvnMessage {
  key: string;
  params?: MessageParams;
  keyParams?: readonly string[];
}

/**
 * What Ferry was doing when svn failed (ErrorContext.action, written in src/deploy/svn/client.ts): message keys,
 * translated before they are filled into "SVN failed to {{action}}." and the like.
 */
export const SVN_ACTIONS = [
  tk('read the project information'),
  tk('read the history'),
  tk('list a directory'),
  tk('read a file'),
  tk('compare two revisions of a file'),
  tk('export'),
  tk('check out the project'),
  tk('update the working copy'),
  tk('switch the working copy'),
  tk('clean up the working copy'),
  tk('read the working copy'),
] as const;

const inProject = (ctx: ErrorContext) => ctx.path === undefined || ctx.path === PROJECT_ROOT;

export function svnMessage(kind: SvnErrorKind, ctx: ErrorContext, url: string, detail: string): SvnMessage {
  const action = { action: ctx.action };
  switch (kind) {
    case 'auth':
      return { key: tk('SVN rejected the login: check the username and password.') };
    case 'access-denied':
      return inProject(ctx)
        ? { key: tk('SVN refused access to the project directory: this user may not read it.') }
        : { key: tk('SVN refused access to "{{path}}": this user may not read it.'), params: { path: ctx.path! } };
    case 'certificate':
      return { key: tk("The SVN server's TLS certificate is not trusted ({{url}})."), params: { url } };
    case 'no-such-revision':
      return ctx.revision !== undefined
        ? { key: tk('Revision {{revision}} does not exist in the repository.'), params: { revision: ctx.revision } }
        : { key: tk('That revision does not exist in the repository.') };
    case 'not-found':
      if (/E210005/.test(detail)) return { key: tk('There is no SVN repository at {{url}}.'), params: { url } };
      if (ctx.revision !== undefined && ctx.revision !== 'HEAD') {
        return inProject(ctx)
          ? { key: tk('The project directory does not exist in revision {{revision}}.'), params: { revision: ctx.revision } }
          : { key: tk('"{{path}}" does not exist in revision {{revision}}.'), params: { path: ctx.path!, revision: ctx.revision } };
      }
      return inProject(ctx)
        ? { key: tk('The project URL {{url}} does not exist in the repository.'), params: { url } }
        : { key: tk('"{{path}}" does not exist in the repository.'), params: { path: ctx.path! } };
    case 'unreachable':
      if (/E670\d{3}/.test(detail)) return { key: tk("Cannot find the SVN server's host name ({{url}})."), params: { url } };
      return { key: tk('Cannot reach the SVN server ({{url}}): it refused or dropped the connection, or is down.'), params: { url } };
    case 'local-disk':
      return { key: tk('SVN could not write the exported files on the Ferry server (disk full or read-only) while trying to {{action}}.'), params: action, keyParams: ['action'] };
    default:
      return inProject(ctx)
        ? { key: tk('SVN failed to {{action}}.'), params: action, keyParams: ['action'] }
        : { key: tk('SVN failed to {{action}} "{{path}}".'), params: { ...action, path: ctx.path! }, keyParams: ['action'] };
  }
}

/** The message in English (logs, the operation log, job records). */
export function plainMessage(kind: SvnErrorKind, ctx: ErrorContext, url: string, detail: string): string {
  const message = svnMessage(kind, ctx, url, detail);
  return fill(message.key, message.params);
}

/** Turns svn's stderr into an SvnError an operator can act on. */
export function svnErrorFromStderr(stderr: string, ctx: ErrorContext, url: string): SvnError {
  const detail = stderr.trim().slice(0, MAX_DETAIL);
  const codes = [...detail.matchAll(/\b([EW]\d{6})\b/g)].map((m) => m[1]);
  const match = ERROR_CODES.find(([, pattern]) => codes.some((code) => pattern.test(code)));
  const kind = match ? match[0] : 'unknown';
  return new SvnError(kind, svnMessage(kind, ctx, url, detail), detail, codes);
}
