// API token lifecycle: create (optionally expiring), list, revoke, and the check made on every bearer request.
// Only a SHA-256 hash of a token is stored; its first characters (the prefix) identify it in lists.
import { z } from 'zod';
import { API_TOKEN_LIMITS } from '../config.ts';
import { generateToken, hashToken } from '../lib/crypto.ts';
import { FerryError, forbidden } from '../lib/errors.ts';
import { tk } from '../lib/messages.ts';
import type { Ctx, Services } from './context.ts';
import { isAdmin } from './permissions.ts';
import { recordOp } from './oplog.ts';
import { parseForm } from './config/form.ts';

type TokenStatus = 'active' | 'revoked' | 'expired';
/** The statuses as words the token lists show with t(status). */
export const TOKEN_STATUS_WORDS: readonly string[] = [tk('active'), tk('revoked'), tk('expired')];

/** How many characters of a token are kept in clear: "fry_" and 8 random ones (48 of its 192 random bits). */
const PREFIX_LENGTH = 12;
const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
const DURATION_FIELD = tk('must be a number of hours, days or weeks, like 30d, 12h or 90d');

/**
 * Parses "30d", "12h", "2w" into milliseconds; anything else (or beyond the longest allowed) is a plain error.
 * `what` is a message key naming the value ("The expiry"), or an option name such as "--expires".
 */
export function parseDuration(text: string, what = tk('The expiry')): number {
  const m = /^\s*(\d{1,6})\s*([hdw])\s*$/i.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2].toLowerCase() as keyof typeof UNIT_MS] : NaN;
  if (!m || ms <= 0) {
    throw new FerryError('invalid', tk('{{what}} must be a number of hours, days or weeks, like 30d, 12h or 90d; "{{text}}" is not.'), {
      params: { what, text: text.slice(0, 40) }, keyParams: ['what'], fields: { expires: DURATION_FIELD },
    });
  }
  if (ms > API_TOKEN_LIMITS.maxExpiryDays * UNIT_MS.d) {
    // The field message is static (field messages are translated without values); the message says the limit.
    throw new FerryError('invalid', tk('{{what}} can be at most {{days}} days.'), {
      params: { what, days: API_TOKEN_LIMITS.maxExpiryDays }, keyParams: ['what'], fields: { expires: tk('longer than the longest expiry allowed') },
    });
  }
  return ms;
}

export function tokenStatus(row: { revokedAt: Date | null; expiresAt: Date | null }, now = new Date()): TokenStatus {
  if (row.revokedAt) return 'revoked';
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

const noteField = z.preprocess((v) => v ?? '', z.string().trim().max(API_TOKEN_LIMITS.noteMaxLength, tk('too long for a note'))
  // One line of printable text: it is shown in tables and written to the operation log.
  .regex(/^[^\p{Cc}]*$/u, tk('one line of text, no control characters')));
const expiresField = z.preprocess((v) => (typeof v === 'string' ? v.trim() : v ?? ''), z.string().max(20, DURATION_FIELD));
const newTokenSchema = z.object({ note: noteField, expires: expiresField });

export interface NewToken {
  id: number;
  /** The clear token: shown once, never stored. */
  token: string;
  prefix: string;
  note: string;
  expiresAt: Date | null;
}

/**
 * Creates a token for `userName`. Members and auditors may only create their own; admins (and the CLI) anyone's.
 * `input` is form-shaped: { note, expires } where expires is "" (never) or a duration like "90d".
 */
export async function issueToken(svc: Pick<Services, 'db'>, ctx: Ctx, userName: string, input: { note?: unknown; expires?: unknown }): Promise<NewToken> {
  const data = parseForm(newTokenSchema, input);
  const expiresInMs = data.expires ? parseDuration(data.expires) : null;
  const user = await svc.db.user.findUnique({ where: { name: userName } });
  if (!user) throw new FerryError('not-found', tk('There is no user named "{{name}}".'), { params: { name: userName } });
  if (ctx.actor.id !== user.id && !isAdmin(ctx.actor)) {
    await recordOp(svc, ctx, { action: 'token.create', result: 'denied', target: user.name, detail: 'only for your own account' });
    throw forbidden('You can only create API tokens for your own account.');
  }
  const token = generateToken();
  const prefix = token.slice(0, PREFIX_LENGTH);
  const expiresAt = expiresInMs === null ? null : new Date(Date.now() + expiresInMs);
  const note = data.note || 'token';
  const row = await svc.db.apiToken.create({ data: { userId: user.id, name: note, prefix, tokenHash: hashToken(token), expiresAt } });
  await recordOp(svc, ctx, {
    action: 'token.create', result: 'ok', target: user.name,
    detail: `token #${row.id} "${note}" (${prefix}…), ${expiresAt ? `expires ${expiresAt.toISOString()}` : 'no expiry'}`,
  });
  return { id: row.id, token, prefix, note, expiresAt };
}

export interface TokenRow {
  id: number;
  userId: number;
  userName: string;
  note: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  status: TokenStatus;
}

/** Tokens of one user (by id or name) or of everyone, newest first. Shows no secret: only the prefix. */
export async function listTokens(svc: Pick<Services, 'db'>, filter: { userId?: number; userName?: string } = {}): Promise<TokenRow[]> {
  if (filter.userName !== undefined && !(await svc.db.user.findUnique({ where: { name: filter.userName } }))) {
    throw new FerryError('not-found', tk('There is no user named "{{name}}".'), { params: { name: filter.userName } });
  }
  const rows = await svc.db.apiToken.findMany({
    where: { userId: filter.userId, user: filter.userName !== undefined ? { name: filter.userName } : undefined },
    include: { user: { select: { name: true } } },
    orderBy: { id: 'desc' },
  });
  const now = new Date();
  return rows.map((r) => ({
    id: r.id, userId: r.userId, userName: r.user.name, note: r.name, prefix: r.prefix, createdAt: r.createdAt,
    expiresAt: r.expiresAt, revokedAt: r.revokedAt, lastUsedAt: r.lastUsedAt, status: tokenStatus(r, now),
  }));
}

/**
 * Revokes a token at once. Its owner and admins may; anyone else gets a 403 (logged) and nothing changes.
 * `ownerId`, when given, must match (the user page revokes only that user's tokens).
 */
export async function revokeToken(svc: Pick<Services, 'db'>, ctx: Ctx, id: number, ownerId?: number): Promise<{ id: number; userName: string; note: string; alreadyRevoked: boolean }> {
  const row = await svc.db.apiToken.findUnique({ where: { id }, include: { user: { select: { name: true } } } });
  if (!row || (ownerId !== undefined && row.userId !== ownerId)) throw new FerryError('not-found', tk('There is no API token with id {{id}}.'), { params: { id } });
  if (row.userId !== ctx.actor.id && !isAdmin(ctx.actor)) {
    await recordOp(svc, ctx, { action: 'token.revoke', result: 'denied', target: row.user.name, detail: `token #${row.id}: not your own` });
    throw forbidden('You can only revoke your own API tokens.');
  }
  const alreadyRevoked = row.revokedAt !== null;
  // The condition keeps the first revocation time if two requests race.
  if (!alreadyRevoked) await svc.db.apiToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  await recordOp(svc, ctx, {
    action: 'token.revoke', result: 'ok', target: row.user.name,
    detail: `token #${row.id} "${row.name}" (${row.prefix || 'no prefix'}…)${alreadyRevoked ? ', was already revoked' : ''}`,
  });
  return { id: row.id, userName: row.user.name, note: row.name, alreadyRevoked };
}

/**
 * The check behind `Authorization: Bearer`: the token's row and user, or why it is refused. Records the use,
 * at most once per API_TOKEN_LIMITS.lastUsedResolutionMs, so a busy client does not write on every request.
 */
export async function checkToken(svc: Pick<Services, 'db'>, token: string) {
  // A real token is short; anything long is not one of ours and is not worth hashing.
  if (token.length > 200) return { ok: false as const, reason: 'unknown' as const };
  const row = await svc.db.apiToken.findUnique({ where: { tokenHash: hashToken(token) }, include: { user: { include: { grants: true } } } });
  if (!row || row.user.disabled) return { ok: false as const, reason: 'unknown' as const };
  const now = new Date();
  const status = tokenStatus(row, now);
  if (status !== 'active') return { ok: false as const, reason: status, tokenId: row.id, prefix: row.prefix, userName: row.user.name };
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= API_TOKEN_LIMITS.lastUsedResolutionMs) {
    await svc.db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: now } });
  }
  return { ok: true as const, user: row.user };
}
