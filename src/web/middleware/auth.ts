// Authentication gates: session (browser) or Authorization: Bearer <token> (API), and role checks.
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../lib/errors.ts';
import type { Services, Ctx, Role } from '../../services/context.ts';
import { toActor } from '../../services/users.ts';
import { checkToken } from '../../services/tokens.ts';
import { recordOp } from '../../services/oplog.ts';

export const isApi = (req: Request) => req.originalUrl.startsWith('/api/');

const TOKEN_REFUSALS = {
  unknown: 'The API token is not valid.',
  revoked: 'The API token has been revoked; create a new one on your account page.',
  expired: 'The API token has expired; create a new one on your account page.',
} as const;

/** Accepts an API token in place of a session; a revoked or expired one is refused at once. */
export function bearerToken(svc: Services) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    if (!header?.startsWith('Bearer ')) return next();
    const checked = await checkToken(svc, header.slice(7).trim());
    if (!checked.ok) throw new AppError(401, TOKEN_REFUSALS[checked.reason]);
    req.user = toActor(checked.user);
    req.viaToken = true;
    next();
  };
}

/** Every page but the login page needs a signed-in user. */
export function requireLogin(req: Request, res: Response, next: NextFunction) {
  if (req.user) return next();
  if (isApi(req)) throw new AppError(401, 'Sign in or send an API token (Authorization: Bearer ...).');
  const nextUrl = req.method === 'GET' ? `?next=${encodeURIComponent(req.originalUrl)}` : '';
  res.redirect(`/login${nextUrl}`);
}

export function ctxOf(req: Request): Ctx {
  if (!req.user) throw new AppError(401, 'Not signed in.');
  return { actor: req.user, ip: req.ip ?? '' };
}

/** Route guard by role; a refusal is logged and answered 403 with a plain message. */
export function requireRole(svc: Services, ...roles: Role[]) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const ctx = ctxOf(req);
    if (roles.includes(ctx.actor.role)) return next();
    await recordOp(svc, ctx, { action: 'access', result: 'denied', target: `${req.method} ${req.originalUrl.split('?')[0]}`, detail: `needs role ${roles.join(' or ')}` });
    throw new AppError(403, roles.includes('auditor')
      ? 'Only administrators and auditors can see this page.'
      : 'Only administrators can do this.');
  };
}
