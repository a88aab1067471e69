// Shared parts of the import planner: the preview types, the stored state it compares with, small comparisons.
import { decryptSecret } from '../../lib/crypto.ts';
import type { Db } from '../../lib/db.ts';
import { tk } from '../../lib/messages.ts';
import type { IdResolver, Tx } from './ids.ts';

export type PlanKind = 'credential' | 'host' | 'project' | 'group' | 'process' | 'hook' | 'notification' | 'user';
export type PlanAction = 'create' | 'update' | 'unchanged';

/** The kinds and actions as the import page shows them, translated ("unchanged" is a status word already). */
export const PLAN_WORDS = [
  tk('credential'), tk('host'), tk('project'), tk('group'), tk('process'), tk('hook'), tk('notification'), tk('user'),
  tk('create'), tk('update'),
];

export interface PlanItem {
  kind: PlanKind;
  name: string;
  /** For groups, processes, hooks and notification channels: the project they belong to. */
  project?: string;
  action: PlanAction;
  /** Names of the fields that differ; secrets appear as "svnPassword (secret)", never with values. */
  changes: string[];
}

export interface ImportPlan {
  credentials: PlanItem[];
  hosts: PlanItem[];
  projects: PlanItem[];
  groups: PlanItem[];
  processes: PlanItem[];
  hooks: PlanItem[];
  notifications: PlanItem[];
  users: PlanItem[];
  /** Every item above in one list, in the same order (credentials, hosts, projects, groups, processes, hooks, notifications, users). */
  items: PlanItem[];
  /** "created 3 hosts, 1 project; updated 1 user; 2 unchanged" (or "nothing to change"). */
  summary: string;
}

export type Step = (tx: Tx, ids: IdResolver) => Promise<void>;

export interface BuiltImport {
  plan: ImportPlan;
  /** Slow work to do before the transaction opens (password hashing). */
  prepare: (() => Promise<void>)[];
  /** Writes in dependency order; run inside one transaction. */
  steps: Step[];
}

export type Stored = Awaited<ReturnType<typeof loadStored>>;

export async function loadStored(db: Db) {
  const [credentials, hosts, projects, users] = await Promise.all([
    db.credential.findMany(),
    db.host.findMany({ include: { credential: { select: { name: true } }, jumpHost: { select: { name: true } } } }),
    db.project.findMany({
      include: {
        groups: { include: { hosts: { select: { name: true } } } },
        processes: { include: { groups: { select: { name: true } } } },
        hooks: true,
        notificationChannels: true,
      },
    }),
    db.user.findMany({ include: { grants: { include: { project: { select: { name: true } } } } } }),
  ]);
  return {
    credentials: new Map(credentials.map((c) => [c.name, c])),
    hosts: new Map(hosts.map((h) => [h.name, h])),
    projects: new Map(projects.map((p) => [p.name, p])),
    users: new Map(users.map((u) => [u.name, u])),
  };
}

export function item(kind: PlanKind, name: string, changes: string[] | null, project?: string): PlanItem {
  const action: PlanAction = changes === null ? 'create' : changes.length ? 'update' : 'unchanged';
  return { kind, name, ...(project === undefined ? {} : { project }), action, changes: changes ?? [] };
}

/** True when the stored ciphertext holds `wanted` (an empty or missing value equals an unset secret). */
export function sameSecret(key: Buffer, stored: string | null, wanted: string | null | undefined): boolean {
  if (!wanted) return !stored;
  if (!stored) return false;
  try {
    return decryptSecret(key, stored) === wanted;
  } catch {
    // Saved with another secret key: unreadable, so the file's value replaces it.
    return false;
  }
}

export const sameSet = (a: Iterable<string>, b: Iterable<string>) => {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
};
