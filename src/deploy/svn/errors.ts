// svn's failures as errors an operator can act on: stderr's E-codes classified (wrong password, unreachable server,
// missing path or revision...) into an SvnError with a plain message; svn's own words stay in `detail` for the log.
import { FerryError, type ErrorKind } from '../../lib/errors.ts';
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

  constructor(reason: SvnErrorKind, message: string, detail = '', svnCodes: string[] = []) {
    super(FERRY_KIND[reason], message, { detail });
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

function describePath(ctx: ErrorContext): string {
  return ctx.path === undefined || ctx.path === PROJECT_ROOT ? 'The project directory' : `"${ctx.path}"`;
}

export function plainMessage(kind: SvnErrorKind, ctx: ErrorContext, url: string, detail: string): string {
  switch (kind) {
    case 'auth':
      return 'SVN rejected the login: check the username and password.';
    case 'access-denied':
      return `SVN refused access to ${describePath(ctx).replace(/^The/, 'the')}: this user may not read it.`;
    case 'certificate':
      return `The SVN server's TLS certificate is not trusted (${url}).`;
    case 'no-such-revision':
      return ctx.revision !== undefined
        ? `Revision ${ctx.revision} does not exist in the repository.`
        : 'That revision does not exist in the repository.';
    case 'not-found':
      if (/E210005/.test(detail)) return `There is no SVN repository at ${url}.`;
      if (ctx.revision !== undefined && ctx.revision !== 'HEAD') return `${describePath(ctx)} does not exist in revision ${ctx.revision}.`;
      return ctx.path === undefined || ctx.path === PROJECT_ROOT
        ? `The project URL ${url} does not exist in the repository.`
        : `"${ctx.path}" does not exist in the repository.`;
    case 'unreachable':
      if (/E670\d{3}/.test(detail)) return `Cannot find the SVN server's host name (${url}).`;
      return `Cannot reach the SVN server (${url}): it refused or dropped the connection, or is down.`;
    case 'local-disk':
      return `SVN could not write the exported files on the Ferry server (disk full or read-only) while trying to ${ctx.action}.`;
    default:
      return `SVN failed to ${ctx.action}${ctx.path && ctx.path !== PROJECT_ROOT ? ` "${ctx.path}"` : ''}.`;
  }
}

/** Turns svn's stderr into an SvnError an operator can act on. */
export function svnErrorFromStderr(stderr: string, ctx: ErrorContext, url: string): SvnError {
  const detail = stderr.trim().slice(0, MAX_DETAIL);
  const codes = [...detail.matchAll(/\b([EW]\d{6})\b/g)].map((m) => m[1]);
  const match = ERROR_CODES.find(([, pattern]) => codes.some((code) => pattern.test(code)));
  const kind = match ? match[0] : 'unknown';
  return new SvnError(kind, plainMessage(kind, ctx, url, detail), detail, codes);
}
