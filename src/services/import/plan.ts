// Compares a checked document with the database: a preview per entry (create / update / unchanged and which fields)
// plus the write steps that make the database match. Secrets are compared by decrypting, never shown.
import type { Db } from '../../lib/db.ts';
import { loadStored, type BuiltImport, type PlanItem, type PlanKind, type Stored } from './plan-common.ts';
import { planCredentials, planHosts } from './plan-hosts.ts';
import { planGroups, planHooks, planProcesses, planProjects } from './plan-projects.ts';
import { planNotifications } from './plan-notifications.ts';
import { planUsers } from './plan-users.ts';
import { tk } from '../../lib/messages.ts';
import { Problems } from './problems.ts';
import type { KnownNames } from './references.ts';
import { checkReferences } from './references.ts';
import type { ImportDocument } from './schema.ts';

export type { BuiltImport, ImportPlan, PlanAction, PlanItem, PlanKind, Step } from './plan-common.ts';

function knownNames(stored: Stored): KnownNames {
  return {
    credentials: new Set(stored.credentials.keys()),
    hosts: new Map([...stored.hosts.values()].map((h) => [h.name, h.jumpHost?.name ?? null])),
    projects: new Map([...stored.projects.values()].map((p) => [p.name, new Set(p.groups.map((g) => g.name))])),
  };
}

/** Throws a 400 naming entry and field when a reference is unknown to both the file and the database. */
export async function buildImport(db: Db, secretKey: Buffer, doc: ImportDocument): Promise<BuiltImport> {
  const stored = await loadStored(db);
  const problems = new Problems();
  checkReferences(doc, knownNames(stored), problems);
  doc.users.forEach((u, i) => {
    if (!u.password && !stored.users.has(u.name)) problems.add(['users', i, 'password'], tk('required for a new user'));
  });
  problems.throwIfAny();

  const out: BuiltImport = {
    plan: { credentials: [], hosts: [], projects: [], groups: [], processes: [], hooks: [], notifications: [], users: [], items: [], summary: '' },
    prepare: [],
    steps: [],
  };
  planCredentials(doc, stored, secretKey, out);
  planHosts(doc, stored, out);
  planProjects(doc, stored, secretKey, out);
  planGroups(doc, stored, out);
  planProcesses(doc, stored, out);
  planHooks(doc, stored, out);
  planNotifications(doc, stored, secretKey, out);
  await planUsers(doc, stored, out);
  const { plan } = out;
  plan.items = [plan.credentials, plan.hosts, plan.projects, plan.groups, plan.processes, plan.hooks, plan.notifications, plan.users].flat();
  plan.summary = summarize(plan.items);
  return out;
}

const NOUNS: Record<PlanKind, [string, string]> = {
  credential: ['credential', 'credentials'], host: ['host', 'hosts'], project: ['project', 'projects'],
  group: ['group', 'groups'], process: ['process', 'processes'], hook: ['hook', 'hooks'],
  notification: ['notification channel', 'notification channels'], user: ['user', 'users'],
};

/** "created 3 hosts, 1 project; updated 1 user; 5 unchanged" */
function summarize(items: PlanItem[]): string {
  const parts: string[] = [];
  for (const [action, verb] of [['create', 'created'], ['update', 'updated']] as const) {
    const counted = (Object.keys(NOUNS) as PlanKind[])
      .map((kind) => [kind, items.filter((x) => x.kind === kind && x.action === action).length] as const)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${NOUNS[kind][n === 1 ? 0 : 1]}`);
    if (counted.length) parts.push(`${verb} ${counted.join(', ')}`);
  }
  const unchanged = items.filter((x) => x.action === 'unchanged').length;
  if (!parts.length) return unchanged ? `nothing to change (${unchanged} unchanged)` : 'nothing to change';
  return parts.join('; ') + (unchanged ? `; ${unchanged} unchanged` : '');
}
