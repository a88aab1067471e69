// Who is acting and from where: passed to every service call so permissions and the operation log agree.
import type { Db } from '../lib/db.ts';
import type { Logger } from '../lib/logger.ts';

export type Role = 'admin' | 'member' | 'auditor';
export const ROLES: readonly Role[] = ['admin', 'member', 'auditor'];
export type Permission = 'publish' | 'rollback' | 'process';
export const PERMISSIONS: readonly Permission[] = ['publish', 'rollback', 'process'];

export interface ProjectGrant {
  publish: boolean;
  rollback: boolean;
  process: boolean;
}

export interface Actor {
  id: number | null;
  name: string;
  role: Role;
  /** Per-project grants of a member, keyed by project id. */
  grants: Map<number, ProjectGrant>;
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
