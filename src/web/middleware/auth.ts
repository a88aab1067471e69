// Authentication gates: session (browser) or Authorization: Bearer <token> (API), and role checks.
import type { NextFunction, Request, Response } from 'express';
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Services, Ctx, Role } from '../../services/context.ts';
import { toActor } from '../../services/users.ts';
import { checkToken } from '../../services/tokens.ts';
import { recordOp } from '../../services/oplog.ts';

export const isApi = (req: Request) => req.originalUrl.startsWith('/api/');

const TOKEN_REFUSALS = {
  unknown: tk('The API token is not valid.'),
  revoked: tk('The API token has been revoked; create a new one on your account page.'),
  expired: tk('The API token has expired; create a new one on your account page.'),
} as const;

const refusedTokenLoggedAt = new Map<number, number>();
function shouldLogRefusedToken(tokenId: number): boolean {
  const now = Date.now();
  if ((refusedTokenLoggedAt.get(tokenId) ?? 0) > now - 60_000) return false;
  if (refusedTokenLoggedAt.size > 10_000) refusedTokenLoggedAt.clear();
  refusedTokenLoggedAt.set(tokenId, now);
  return true;
}

/** Accepts an API token in place of a session; a revoked or expired one is refused at once. */
export function bearerToken(svc: Services) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    if (!header?.startsWith('Bearer ')) return next();
    // Tokens drive the JSON API only: the pages and forms (admin, account) need a password sign-in, so a stolen
    // token cannot create accounts or new passwords there that would outlive its revocation.
    if (!isApi(req)) throw new FerryError('unauthenticated', 'API tokens are accepted only under /api; sign in with your password for the pages.');
    const checked = await checkToken(svc, header.slice(7).trim());
    if (!checked.ok) {
      // A revoked or expired token still in use is the clearest sign of a leaked one: log it, once a minute per token.
      if (checked.tokenId !== undefined && shouldLogRefusedToken(checked.tokenId)) {
        await recordOp(svc, { actor: null, ip: req.ip ?? '', userName: checked.userName }, {
          action: 'token.use', result: 'denied', target: `token #${checked.tokenId} (${checked.prefix || 'older token'})`,
          detail: `${checked.reason} token used for ${req.method} ${req.originalUrl.split('?')[0]}`,
        });
      }
      throw new FerryError('unauthenticated', TOKEN_REFUSALS[checked.reason]);
    }
    req.user = toActor(checked.user);
    req.viaToken = true;
    next();
  };
}

/** Every page but the login page needs a signed-in user. */
export function requireLogin(req: Request, res: Response, next: NextFunction) {
  if (req.user) return next();
  if (isApi(req)) throw new FerryError('unauthenticated', 'Sign in or send an API token (Authorization: Bearer ...).');
  const nextUrl = req.method === 'GET' ? `?next=${encodeURIComponent(req.originalUrl)}` : '';
  res.redirect(`/login${nextUrl}`);
}

export function ctxOf(req: Request): Ctx {
  if (!req.user) throw new FerryError('unauthenticated', 'Not signed in.');
  return { actor: req.user, ip: req.ip ?? '' };
}

/** Route guard by role; a refusal is logged and answered 403 with a plain message. */
export function requireRole(svc: Services, ...roles: Role[]) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const ctx = ctxOf(req);
    if (roles.includes(ctx.actor.role)) return next();
    await recordOp(svc, ctx, { action: 'access', result: 'denied', target: `${req.method} ${req.originalUrl.split('?')[0]}`, detail: `needs role ${roles.join(' or ')}` });
    throw new FerryError('refused', roles.includes('auditor')
      ? 'Only administrators and auditors can see this page.'
      : 'Only administrators can do this.');
  };
}
