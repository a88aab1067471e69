// Who is acting and from where: passed to every service call so permissions and the operation log agree.
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';

export type Role = 'admin' | 'member' | 'auditor';
export const ROLES: readonly Role[] = ['admin', 'member', 'auditor'];
export type Permission = 'publish' | 'rollback' | 'process' | 'approve';
export const PERMISSIONS: readonly Permission[] = ['publish', 'rollback', 'process', 'approve'];

export type ProjectGrant = Record<Permission, boolean>;

/** The Grant table's column for each permission. */
const GRANT_COLUMNS = { publish: 'canPublish', rollback: 'canRollback', process: 'canProcess', approve: 'canApprove' } as const satisfies Record<Permission, string>;
type GrantRow = { [K in (typeof GRANT_COLUMNS)[Permission]]: boolean };

/** A Grant row's flags as permissions. */
export function grantFromRow(row: GrantRow): ProjectGrant {
  return Object.fromEntries(PERMISSIONS.map((p) => [p, row[GRANT_COLUMNS[p]]])) as ProjectGrant;
}

/** Permissions as the Grant row's columns (for create/update). */
export function grantToRow(flags: ProjectGrant): GrantRow {
  return Object.fromEntries(PERMISSIONS.map((p) => [GRANT_COLUMNS[p], flags[p]])) as GrantRow;
}

export interface Actor {
  id: number | null;
  name: string;
  role: Role;
  /** Per-project grants of a member, keyed by project id. */
  grants: Map<number, ProjectGrant>;
  /** The interface language the user picked ('' or absent: follow the browser). */
  locale?: string;
}

export interface Ctx {
  actor: Actor;
  ip: string;
}

/** Shared dependencies of the services. */
export interface Services {
  db: Db;
  logger: Logger;
  secretKey: Buffer;
}

/** The actor used by the CLI (runs on the server as the operator). */
export const cliActor = (): Actor => ({ id: null, name: 'cli', role: 'admin', grants: new Map() });
