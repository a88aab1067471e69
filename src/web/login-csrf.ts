// CSRF protection for the login form without a session: anonymous visitors get no session row (a signed double-submit
// token instead). The browser holds a random nonce in an httpOnly cookie; the form carries HMAC(key, nonce). A forged
// cross-site form cannot read the cookie and so cannot compute the token for it.
import crypto from 'node:crypto';
import type { Request, Response } from 'express';

const COOKIE = 'ferry.login';
const NONCE = /^[A-Za-z0-9_-]{43}$/;

export interface LoginCsrf {
  /** The token for this browser's login form; sets the nonce cookie when the browser has none. */
  token(req: Request, res: Response): string;
  /** True when the request carries the token that belongs to its nonce cookie. */
  isValid(req: Request, sent: unknown): boolean;
  /** Forgets the nonce (after a successful login the session's own token takes over). */
  clear(res: Response): void;
}

function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function loginCsrf(secret: string, secure: boolean): LoginCsrf {
  const key = crypto.createHmac('sha256', secret).update('ferry-login-csrf').digest();
  const sign = (nonce: string) => crypto.createHmac('sha256', key).update(nonce).digest('base64url');
  const cookieOptions = { httpOnly: true, sameSite: 'lax', secure, path: '/' } as const;
  return {
    token(req, res) {
      let nonce = readCookie(req, COOKIE);
      if (!nonce || !NONCE.test(nonce)) {
        nonce = crypto.randomBytes(32).toString('base64url');
        res.cookie(COOKIE, nonce, cookieOptions);
      }
      return sign(nonce);
    },
    isValid(req, sent) {
      const nonce = readCookie(req, COOKIE);
      if (!nonce || !NONCE.test(nonce) || typeof sent !== 'string') return false;
      const expected = Buffer.from(sign(nonce));
      const given = Buffer.from(sent);
      return given.length === expected.length && crypto.timingSafeEqual(given, expected);
    },
    clear(res) {
      res.clearCookie(COOKIE, cookieOptions);
    },
  };
}
