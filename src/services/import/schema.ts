// The shape of an import file (zod) and of the checked document the planner works on. Field values are checked by
// the same rules as the admin forms (config/rules.ts), so the import accepts exactly what the forms accept.
import { z } from 'zod';
import { FIELD_LIMITS, NOTIFY_DELIVERY } from '../../config.ts';
import { tk } from '../../lib/messages.ts';
import type { Permission, Role } from '../context.ts';
import { PERMISSIONS, ROLES } from '../context.ts';
import {
  addressRule, commandRule, deployDirRule, descriptionRule, hostKeyRule, intRule, nameRule, passwordRule, privateKeyRule,
  RANGES, requiredCommandRule, scriptRule, svnUrlRule, svnUsernameRule, userPasswordRule, usernameRule,
} from '../config/rules.ts';
import { importChannelSchema } from '../config/notifications.ts';
import type { ChannelKind } from '../notify/message.ts';
import type { NotifyEventName } from '../notify/events.ts';

export const HOOK_STAGES = ['before-publish', 'after-publish', 'before-restart', 'after-restart'] as const;
export type HookStage = (typeof HOOK_STAGES)[number];
export const RELAY_MODES = ['auto', 'tunnel', 'store-forward'] as const;
export type RelayMode = (typeof RELAY_MODES)[number];

/** Hooks of the publish preparation run on the Ferry server; all others on each target. */
export const runOnForStage = (stage: HookStage): 'server' | 'target' => (stage === 'before-publish' ? 'server' : 'target');

const name = nameRule;
/** A reference to another entry by name; checked against the file and the database later. */
const ref = z.string().trim().min(1).max(FIELD_LIMITS.name, `at most ${FIELD_LIMITS.name} characters`);

/** Whole numbers may arrive as strings (CSV cells, quoted YAML). */
const int = (range: { min: number; max: number }) => z.preprocess(
  (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  intRule(range),
);

/** "" or null removes an optional path override; anything else must be a valid deploy directory. */
const optionalDeployDir = z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? null : v), deployDirRule.nullable().optional());

/** A list given as a YAML list or as "a;b" / "a|b" text (CSV cells). */
const nameList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(/[;|]/).map((s) => s.trim()).filter(Boolean) : v),
  z.array(ref),
);

const credential = z.strictObject({
  name,
  username: usernameRule,
  privateKey: privateKeyRule.min(1).optional(),
  passphrase: passwordRule.optional(),
  password: passwordRule.min(1).optional(),
});

const host = z.strictObject({
  name,
  address: addressRule,
  port: int(RANGES.port).optional(),
  credential: ref,
  // null or "" removes the jump host / the pinned key; leaving the field out keeps what is stored.
  jump: z.string().trim().nullable().optional(),
  hostKey: hostKeyRule.nullable().optional(),
  relayMode: z.enum(RELAY_MODES).optional(),
  // Overrides the project's deploy directory on this host; null or "" removes the override.
  deployDir: optionalDeployDir,
  project: ref.optional(),
  groups: nameList.optional(),
});

const processEntry = z.strictObject({
  name,
  start: requiredCommandRule,
  stop: requiredCommandRule,
  status: commandRule.optional(),
  groups: nameList.optional(),
});

const hook = z.strictObject({
  stage: z.enum(HOOK_STAGES),
  script: scriptRule,
  name: name.optional(),
  timeout: int(RANGES.hookTimeoutSec).optional(),
});

const project = z.strictObject({
  name,
  description: descriptionRule.optional(),
  svnUrl: svnUrlRule,
  svnUsername: svnUsernameRule.optional(),
  svnPassword: passwordRule.nullable().optional(),
  deployDir: deployDirRule,
  keepSnapshots: int(RANGES.keepSnapshots).optional(),
  concurrency: int(RANGES.concurrency).optional(),
  groups: z.record(name, z.array(ref).nullable().transform((hosts) => hosts ?? [])).optional(),
  processes: z.array(processEntry).optional(),
  hooks: z.array(hook).optional(),
  requireApproval: z.boolean({ error: tk('must be true or false') }).optional(),
  rollbackNeedsApproval: z.boolean({ error: tk('must be true or false') }).optional(),
  approvalHours: int(RANGES.approvalHours).optional(),
  notifications: z.array(importChannelSchema).max(NOTIFY_DELIVERY.maxChannelsPerProject, `at most ${NOTIFY_DELIVERY.maxChannelsPerProject} channels per project`).optional(),
});

const user = z.strictObject({
  name,
  role: z.enum(ROLES as readonly [Role, ...Role[]]),
  password: userPasswordRule.optional(),
  grants: z.record(ref, z.array(z.enum(PERMISSIONS as readonly [Permission, ...Permission[]])).nullable()).optional(),
});

export const importFileSchema = z.strictObject({
  credentials: z.array(credential).nullable().optional(),
  hosts: z.array(host).nullable().optional(),
  projects: z.array(project).nullable().optional(),
  users: z.array(user).nullable().optional(),
});
export type ImportFileInput = z.output<typeof importFileSchema>;

// ---- The checked document. Optional fields left out keep the stored value (new entries get the default).

export interface CredentialEntry {
  name: string;
  username: string;
  privateKey?: string;
  passphrase?: string;
  password?: string;
  /** "SHA256:..." of the public half of privateKey; "" for password credentials. */
  fingerprint: string;
}

export interface HostEntry {
  name: string;
  address: string;
  port?: number;
  credential: string;
  jump?: string | null;
  /** Normalized "type base64". */
  hostKey?: string | null;
  relayMode?: RelayMode;
  deployDir?: string | null;
  /** With groups: the host belongs to exactly these groups of that project (CSV import). */
  project?: string;
  groups?: string[];
}

export interface ProcessEntry {
  name: string;
  start: string;
  stop: string;
  status?: string;
  groups?: string[];
}

export interface HookEntry {
  name: string;
  stage: HookStage;
  runOn: 'server' | 'target';
  script: string;
  timeoutSec?: number;
  /** Order within its stage, as listed in the file. */
  position: number;
}

export interface NotificationEntry {
  name: string;
  kind: ChannelKind;
  /** Required except for e-mail (the schema checks); ignored for e-mail. */
  url?: string;
  /** Left out: keep the stored secret; "": clear it. */
  secret?: string;
  /** E-mail recipients, normalized "a@x, b@y". */
  to?: string;
  /** Left out or empty: every event. */
  events?: NotifyEventName[];
}

export interface ProjectEntry {
  name: string;
  description?: string;
  svnUrl: string;
  svnUsername?: string;
  svnPassword?: string | null;
  deployDir: string;
  keepSnapshots?: number;
  concurrency?: number;
  groups?: Record<string, string[]>;
  processes?: ProcessEntry[];
  hooks?: HookEntry[];
  requireApproval?: boolean;
  rollbackNeedsApproval?: boolean;
  approvalHours?: number;
  notifications?: NotificationEntry[];
}

export interface UserEntry {
  name: string;
  role: Role;
  password?: string;
  grants?: Record<string, Permission[]>;
}

export interface ImportDocument {
  credentials: CredentialEntry[];
  hosts: HostEntry[];
  projects: ProjectEntry[];
  users: UserEntry[];
}
