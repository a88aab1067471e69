// User accounts as managed by administrators: role, disabled flag, password resets, deletion and the
// per-project grants of members. At least one active administrator always remains.
import { z } from 'zod';
import { FerryError, conflict, notFound } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Ctx, Permission, ProjectGrant, Role, Services } from '../context.ts';
import { grantFromRow, grantToRow, PERMISSIONS, ROLES } from '../context.ts';

/** Grant words the user list shows translated. */
export const GRANT_WORDS = [tk('view'), tk('publish'), tk('rollback'), tk('process'), tk('approve')];

const NO_GRANT: ProjectGrant = { publish: false, rollback: false, process: false, approve: false };
import { assertAdmin } from '../permissions.ts';
import { recordOp } from '../oplog.ts';
import { createUser, setPassword } from '../users.ts';
import { changeDetail, changedFields, checkbox, invalid, nameField, parseForm, secretInput } from './form.ts';
import { userPasswordRule } from './rules.ts';

export const USER_SECRET_INPUTS = ['password'] as const;

const roleField = z.enum(ROLES as readonly [Role, ...Role[]], { error: tk('must be one of admin, member, auditor') });
const newUserSchema = z.object({ name: nameField, role: roleField, password: secretInput(userPasswordRule) });
const updateUserSchema = z.object({ role: roleField, disabled: checkbox });
const passwordSchema = z.object({ password: secretInput(userPasswordRule) });
/** Grant checkboxes arrive as "projectId:permission" values; "view" alone lets a member see a project. */
const grantsSchema = z.object({
  grant: z.preprocess((v) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]), z.array(z.string().regex(/^\d+:(view|publish|rollback|process|approve)$/, tk('unknown choice')))),
});

export const newUserValues = () => ({ name: '', role: 'member' });

type GrantFlags = { view: boolean } & Record<Permission, boolean>;

function grantSummary(g: ProjectGrant): string {
  const perms = PERMISSIONS.filter((p) => g[p]);
  return perms.length ? perms.join(', ') : 'view';
}

export async function listUsers(svc: Pick<Services, 'db'>) {
  const rows = await svc.db.user.findMany({
    orderBy: { name: 'asc' },
    include: { grants: { include: { project: { select: { name: true } } }, orderBy: { project: { name: 'asc' } } } },
  });
  return rows.map((u) => ({
    id: u.id, name: u.name, role: u.role, disabled: u.disabled, createdAt: u.createdAt,
    grants: u.role === 'member' ? u.grants.map((g) => ({ project: g.project.name, summary: grantSummary(grantFromRow(g)) })) : [],
  }));
}

/** The user page: account, and one row of grant flags per project. */
export async function userDetail(svc: Pick<Services, 'db'>, id: number) {
  const u = await svc.db.user.findUnique({ where: { id }, include: { grants: true, tokens: { select: { id: true } } } });
  if (!u) throw notFound('That user');
  const projects = await svc.db.project.findMany({ select: { id: true, name: true }, orderBy: { name: 'asc' } });
  const byProject = new Map(u.grants.map((g) => [g.projectId, g]));
  return {
    user: { id: u.id, name: u.name, role: u.role, disabled: u.disabled, createdAt: u.createdAt, updatedAt: u.updatedAt, tokenCount: u.tokens.length },
    grants: projects.map((p) => {
      const g = byProject.get(p.id);
      const flags: GrantFlags = { view: Boolean(g), ...(g ? grantFromRow(g) : NO_GRANT) };
      return { projectId: p.id, project: p.name, ...flags };
    }),
  };
}

async function loadUser(svc: Pick<Services, 'db'>, id: number) {
  const u = await svc.db.user.findUnique({ where: { id } });
  if (!u) throw notFound('That user');
  return u;
}

/** Refuses a change that would leave no enabled administrator. */
async function assertAnotherAdmin(svc: Pick<Services, 'db'>, user: { id: number; name: string }, field?: string) {
  const others = await svc.db.user.count({ where: { role: 'admin', disabled: false, id: { not: user.id } } });
  if (others) return;
  const message = tk('"{{name}}" is the last active administrator; make someone else an administrator first.');
  throw new FerryError('conflict', message, {
    params: { name: user.name }, fields: field ? { [field]: tk('this is the last active administrator; make someone else an administrator first') } : undefined,
  });
}

export async function createUserAccount(svc: Services, ctx: Ctx, input: unknown): Promise<{ id: number; name: string; password: string; generated: boolean }> {
  await assertAdmin(svc, ctx, 'user.create', String((input as { name?: unknown } | undefined)?.name ?? ''));
  const data = parseForm(newUserSchema, input);
  const created = await createUser(svc, ctx, { name: data.name, role: data.role, password: data.password });
  return { ...created, name: data.name };
}

export async function updateUser(svc: Services, ctx: Ctx, id: number, input: unknown): Promise<{ name: string; changed: string[] }> {
  const before = await loadUser(svc, id);
  await assertAdmin(svc, ctx, 'user.update', before.name);
  const data = parseForm(updateUserSchema, input);
  const changed = changedFields({ role: before.role, disabled: before.disabled }, data);
  const losesAdmin = before.role === 'admin' && !before.disabled && (data.role !== 'admin' || data.disabled);
  if (losesAdmin && before.id === ctx.actor.id) {
    throw new FerryError('invalid', 'You cannot take away your own administrator role or disable yourself; ask another administrator.', { fields: { [data.disabled ? 'disabled' : 'role']: tk('not for your own account') } });
  }
  if (losesAdmin) await assertAnotherAdmin(svc, before, data.disabled ? 'disabled' : 'role');
  if (changed.length) {
    await svc.db.user.update({ where: { id }, data });
    // A disabled user is signed out at once (their sessions stop resolving); also drop the session rows.
    if (data.disabled && !before.disabled) await svc.db.session.deleteMany({ where: { data: { contains: `"passport":{"user":${id}}` } } });
  }
  const roleNote = changed.includes('role') ? ` (${before.role} → ${data.role})` : '';
  await recordOp(svc, ctx, { action: 'user.update', result: 'ok', target: before.name, detail: changeDetail(changed) + roleNote });
  return { name: before.name, changed };
}

/** Sets a typed password or generates one (returned once, to be shown once). Ends the user's sessions. */
export async function resetUserPassword(svc: Services, ctx: Ctx, id: number, input: unknown): Promise<{ name: string; password: string; generated: boolean }> {
  const user = await loadUser(svc, id);
  await assertAdmin(svc, ctx, 'user.password', user.name);
  const data = parseForm(passwordSchema, input);
  const result = await setPassword(svc, ctx, user.name, data.password);
  return { name: user.name, ...result };
}

export async function deleteUser(svc: Services, ctx: Ctx, id: number): Promise<{ name: string }> {
  const user = await loadUser(svc, id);
  await assertAdmin(svc, ctx, 'user.delete', user.name);
  if (user.id === ctx.actor.id) throw conflict('You cannot delete your own account.');
  if (user.role === 'admin' && !user.disabled) await assertAnotherAdmin(svc, user);
  await svc.db.$transaction([
    svc.db.session.deleteMany({ where: { data: { contains: `"passport":{"user":${id}}` } } }),
    svc.db.user.delete({ where: { id } }),
  ]);
  await recordOp(svc, ctx, { action: 'user.delete', result: 'ok', target: user.name, detail: `role ${user.role}` });
  return { name: user.name };
}

/** Replaces a member's grants with the ticked boxes; a project with no box ticked is no longer visible to them. */
export async function setGrants(svc: Services, ctx: Ctx, id: number, input: unknown): Promise<{ name: string; changed: string[] }> {
  const user = await loadUser(svc, id);
  await assertAdmin(svc, ctx, 'grant.update', user.name);
  if (user.role !== 'member') {
    throw user.role === 'admin'
      ? new FerryError('invalid', tk('Grants only apply to members; "{{name}}" is an admin.'), { params: { name: user.name } })
      : new FerryError('invalid', tk('Grants only apply to members; "{{name}}" is an auditor.'), { params: { name: user.name } });
  }
  const data = parseForm(grantsSchema, input);
  const wanted = new Map<number, GrantFlags>();
  for (const value of data.grant) {
    const [pid, perm] = value.split(':');
    const flags = wanted.get(Number(pid)) ?? { view: true, ...NO_GRANT };
    if ((PERMISSIONS as readonly string[]).includes(perm)) flags[perm as Permission] = true;
    wanted.set(Number(pid), flags);
  }
  const projects = await svc.db.project.findMany({ select: { id: true, name: true } });
  const known = new Set(projects.map((p) => p.id));
  if ([...wanted.keys()].some((pid) => !known.has(pid))) throw invalid({ grant: tk('a project in the form no longer exists; reload the page') });
  const current = new Map((await svc.db.grant.findMany({ where: { userId: id } })).map((g) => [g.projectId, g]));

  const changed: string[] = [];
  const ops = [];
  for (const p of projects) {
    const want = wanted.get(p.id);
    const have = current.get(p.id);
    const wantText = want ? grantSummary(want) : 'none';
    const haveText = have ? grantSummary(grantFromRow(have)) : 'none';
    if (wantText === haveText) continue;
    changed.push(`${p.name} (${haveText} → ${wantText})`);
    if (!want) {
      if (have) ops.push(svc.db.grant.delete({ where: { id: have.id } }));
    } else {
      const flags = grantToRow(want);
      ops.push(svc.db.grant.upsert({ where: { userId_projectId: { userId: id, projectId: p.id } }, create: { userId: id, projectId: p.id, ...flags }, update: flags }));
    }
  }
  if (ops.length) await svc.db.$transaction(ops);
  await recordOp(svc, ctx, { action: 'grant.update', result: 'ok', target: user.name, detail: changeDetail(changed) });
  return { name: user.name, changed };
}
