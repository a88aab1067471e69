// Role and grant checks. Every refusal is written to the operation log before the 403 is raised.
import { FerryError, forbidden } from '../lib/errors.ts';
import { tk } from '../lib/messages.ts';
import type { Actor, Ctx, Permission, ProjectGrant, Services } from './context.ts';
import { PERMISSIONS } from './context.ts';
import { recordOp } from './oplog.ts';

export function isAdmin(actor: Actor): boolean {
  return actor.role === 'admin';
}

/** Admins and auditors see everything; members see projects they hold any grant on. */
export function canSeeProject(actor: Actor, projectId: number): boolean {
  return actor.role !== 'member' || actor.grants.has(projectId);
}

export function can(actor: Actor, permission: Permission, projectId: number): boolean {
  if (actor.role === 'admin') return true;
  if (actor.role !== 'member') return false;
  return actor.grants.get(projectId)?.[permission] ?? false;
}

const PERMISSION_REFUSALS: Record<Permission, string> = {
  publish: tk('You do not have permission to publish to project "{{project}}".'),
  rollback: tk('You do not have permission to roll back releases of project "{{project}}".'),
  process: tk('You do not have permission to control processes of project "{{project}}".'),
  approve: tk('You do not have permission to approve requests of project "{{project}}".'),
};

/** Throws 403 (and logs the refusal) unless the actor holds `permission` on the project. */
export async function assertCan(
  svc: Pick<Services, 'db'>, ctx: Ctx, permission: Permission, project: { id: number; name: string }, action: string,
): Promise<void> {
  if (can(ctx.actor, permission, project.id)) return;
  await recordOp(svc, ctx, { action, result: 'denied', project: project.name, detail: `missing "${permission}" permission` });
  throw new FerryError('refused', PERMISSION_REFUSALS[permission], { params: { project: project.name } });
}

export async function assertAdmin(svc: Pick<Services, 'db'>, ctx: Ctx, action: string, target = ''): Promise<void> {
  if (isAdmin(ctx.actor)) return;
  await recordOp(svc, ctx, { action, result: 'denied', target, detail: 'admin role required' });
  throw forbidden('Only administrators can change the configuration.');
}

export async function assertCanSee(svc: Pick<Services, 'db'>, ctx: Ctx, project: { id: number; name: string }, action: string): Promise<void> {
  if (canSeeProject(ctx.actor, project.id)) return;
  await recordOp(svc, ctx, { action, result: 'denied', project: project.name, detail: 'no grant on this project' });
  throw new FerryError('refused', tk('You have no access to project "{{project}}".'), { params: { project: project.name } });
}

/** What the actor may do on a project: the three grants, for pages that show or hide the buttons. */
export function grantOf(ctx: Ctx, projectId: number): ProjectGrant {
  return Object.fromEntries(PERMISSIONS.map((p) => [p, can(ctx.actor, p, projectId)])) as ProjectGrant;
}

/** What the actor may do on a project, by name (all false for an unknown project). */
export async function grantOn(svc: Pick<Services, 'db'>, ctx: Ctx, projectName: string): Promise<ProjectGrant> {
  const project = await svc.db.project.findUnique({ where: { name: projectName }, select: { id: true } });
  return project ? grantOf(ctx, project.id) : Object.fromEntries(PERMISSIONS.map((p) => [p, false])) as ProjectGrant;
}
