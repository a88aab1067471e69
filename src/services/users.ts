// Users, their grants, API tokens and the first-start admin account.
import { hashPassword, verifyPassword, generatePassword } from '../lib/crypto.ts';
import { FerryError } from '../lib/errors.ts';
import { tk } from '../lib/messages.ts';
import type { Actor, Ctx, ProjectGrant, Role, Services } from './context.ts';
import { grantFromRow, ROLES } from './context.ts';
import { recordOp } from './oplog.ts';
import { nameRule } from './config/rules.ts';
import { issueToken } from './tokens.ts';
import { FIELD_LIMITS } from '../config.ts';

type UserWithGrants = { id: number; name: string; role: string; locale?: string; grants: ({ projectId: number } & Parameters<typeof grantFromRow>[0])[] };

export function toActor(user: UserWithGrants): Actor {
  const grants = new Map<number, ProjectGrant>();
  for (const g of user.grants) grants.set(g.projectId, grantFromRow(g));
  return { id: user.id, name: user.name, role: (ROLES as string[]).includes(user.role) ? (user.role as Role) : 'auditor', grants, locale: user.locale };
}

/** Loads the acting user fresh from the database on every request, so grant changes apply at once. */
export async function loadActor(svc: Pick<Services, 'db'>, userId: number): Promise<Actor | null> {
  const user = await svc.db.user.findUnique({ where: { id: userId }, include: { grants: true } });
  if (!user || user.disabled) return null;
  return toActor(user);
}

/** Checks a name/password pair. Returns the user id or null; never says which half was wrong. */
export async function checkPassword(svc: Pick<Services, 'db'>, name: string, password: string): Promise<number | null> {
  const user = await svc.db.user.findUnique({ where: { name } });
  if (!user || user.disabled) {
    // Spend the same time as a real check so response timing does not reveal which user names exist.
    await verifyPassword(password, DUMMY_HASH);
    return null;
  }
  return (await verifyPassword(password, user.passwordHash)) ? user.id : null;
}
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$' + 'A'.repeat(86) + '==';

/**
 * On the very first start (no admin ever created) makes the `admin` account. Remembered in Setting,
 * so later starts never recreate or reset it, even if it was renamed or deleted.
 */
export async function ensureFirstAdmin(svc: Services, presetPassword?: string): Promise<{ created: boolean; password?: string; generated: boolean }> {
  const done = await svc.db.setting.findUnique({ where: { key: 'bootstrap.adminCreated' } });
  if (done) return { created: false, generated: false };
  const password = presetPassword ?? generatePassword();
  const passwordHash = await hashPassword(password);
  await svc.db.$transaction([
    svc.db.user.upsert({ where: { name: 'admin' }, create: { name: 'admin', role: 'admin', passwordHash }, update: {} }),
    svc.db.setting.create({ data: { key: 'bootstrap.adminCreated', value: new Date().toISOString() } }),
  ]);
  await recordOp(svc, { actor: null, ip: '', userName: 'system' }, { action: 'user.create', result: 'ok', target: 'admin', detail: 'first-start admin account' });
  return { created: true, password: presetPassword ? undefined : password, generated: !presetPassword };
}

function validatePassword(password: string): void {
  const min = FIELD_LIMITS.userPasswordMin;
  if (password.length < min) {
    throw new FerryError('invalid', tk('The password must have at least {{min}} characters.'), { params: { min }, // The field message matches the form rule's (services/config/rules.ts userPasswordRule).
      fields: { password: `at least ${min} characters` } });
  }
}

export async function createUser(svc: Services, ctx: Ctx, input: { name: string; role: Role; password?: string }): Promise<{ id: number; password: string; generated: boolean }> {
  const checked = nameRule.safeParse(input.name);
  if (!checked.success) {
    const problem = checked.error.issues[0]?.message ?? tk('not valid');
    throw new FerryError('invalid', tk('User name "{{name}}": {{problem}}.'), { params: { name: input.name.slice(0, 80), problem }, keyParams: ['problem'], fields: { name: problem } });
  }
  const name = checked.data; // trimmed, as the login form trims what it is given
  const password = input.password || generatePassword();
  validatePassword(password);
  if (await svc.db.user.findUnique({ where: { name } })) throw new FerryError('conflict', tk('A user named "{{name}}" already exists.'), { params: { name }, fields: { name: tk('already exists') } });
  const user = await svc.db.user.create({ data: { name, role: input.role, passwordHash: await hashPassword(password) } });
  await recordOp(svc, ctx, { action: 'user.create', result: 'ok', target: input.name, detail: `role ${input.role}` });
  return { id: user.id, password, generated: !input.password };
}

export async function setPassword(svc: Services, ctx: Ctx, name: string, password?: string): Promise<{ password: string; generated: boolean }> {
  const user = await svc.db.user.findUnique({ where: { name } });
  if (!user) throw new FerryError('not-found', tk('There is no user named "{{name}}".'), { params: { name } });
  const pw = password || generatePassword();
  validatePassword(pw);
  await svc.db.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(pw) } });
  // A new password ends every session of that user.
  await svc.db.session.deleteMany({ where: { data: { contains: `"passport":{"user":${user.id}}` } } });
  await recordOp(svc, ctx, { action: 'user.password', result: 'ok', target: name, detail: 'password reset' });
  return { password: pw, generated: !password };
}

/** A new, non-expiring API token for `userName` with `label` as its note; returns the clear token (see issueToken). */
export async function createToken(svc: Services, ctx: Ctx, userName: string, label = 'cli'): Promise<string> {
  return (await issueToken(svc, ctx, userName, { note: label })).token;
}
