// Planner for users and their per-project grants. Passwords are hashed before the transaction opens.
import { hashPassword, verifyPassword } from '../../lib/crypto.ts';
import type { Permission } from '../context.ts';
import { grantFromRow, grantToRow, PERMISSIONS } from '../context.ts';
import type { IdResolver, Tx } from './ids.ts';
import { item, type BuiltImport, type Stored } from './plan-common.ts';
import type { ImportDocument } from './schema.ts';

type GrantFlags = Record<Permission, boolean>;
const flagsOf = (perms: readonly Permission[]): GrantFlags =>
  Object.fromEntries(PERMISSIONS.map((perm) => [perm, perms.includes(perm)])) as GrantFlags;
const sameFlags = (a: GrantFlags, b: GrantFlags) => PERMISSIONS.every((perm) => a[perm] === b[perm]);

export async function planUsers(doc: ImportDocument, stored: Stored, out: BuiltImport): Promise<void> {
  for (const u of doc.users) {
    const cur = stored.users.get(u.name);
    const wantedGrants = u.grants && Object.entries(u.grants).map(([project, perms]) => ({ project, flags: flagsOf(perms) }));
    let passwordHash = '';
    const writeGrants = async (tx: Tx, ids: IdResolver) => {
      if (!wantedGrants) return;
      const userId = await ids.user(u.name);
      const rows: ({ projectId: number } & GrantFlags)[] = [];
      for (const g of wantedGrants) rows.push({ projectId: await ids.project(g.project), ...g.flags });
      await tx.grant.deleteMany({ where: { userId, projectId: { notIn: rows.map((r) => r.projectId) } } });
      for (const r of rows) {
        const flags = grantToRow(r);
        await tx.grant.upsert({ where: { userId_projectId: { userId, projectId: r.projectId } }, create: { userId, projectId: r.projectId, ...flags }, update: flags });
      }
    };

    if (!cur) {
      out.plan.users.push(item('user', u.name, null));
      out.prepare.push(async () => { passwordHash = await hashPassword(u.password!); });
      out.steps.push(async (tx, ids) => {
        const row = await tx.user.create({ data: { name: u.name, role: u.role, passwordHash } });
        ids.remember('user', u.name, row.id);
        await writeGrants(tx, ids);
      });
      continue;
    }
    const changes: string[] = [];
    if (cur.role !== u.role) changes.push('role');
    const passwordChanged = u.password !== undefined && !(await verifyPassword(u.password, cur.passwordHash));
    if (passwordChanged) changes.push('password (secret)');
    const currentGrants = new Map(cur.grants.map((g) => [g.project.name, grantFromRow(g)]));
    const grantsChanged = wantedGrants !== undefined && (
      wantedGrants.length !== currentGrants.size
      || wantedGrants.some((g) => { const have = currentGrants.get(g.project); return !have || !sameFlags(have, g.flags); })
    );
    if (grantsChanged) changes.push('grants');
    out.plan.users.push(item('user', u.name, changes));
    if (!changes.length) continue;
    if (passwordChanged) out.prepare.push(async () => { passwordHash = await hashPassword(u.password!); });
    out.steps.push(async (tx, ids) => {
      if (changes.includes('role') || passwordChanged) {
        await tx.user.update({ where: { id: cur.id }, data: { role: u.role, ...(passwordChanged && { passwordHash }) } });
      }
      // Like a password reset in the user admin page: a new password ends that user's sessions.
      if (passwordChanged) await tx.session.deleteMany({ where: { data: { contains: `"passport":{"user":${cur.id}}` } } });
      if (grantsChanged) await writeGrants(tx, ids);
    });
  }
}
