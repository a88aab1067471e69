// The shape of an import file (zod) and of the checked document the planner works on.
import { z } from 'zod';
import type { Permission, Role } from '../context.ts';
import { PERMISSIONS, ROLES } from '../context.ts';

export const HOOK_STAGES = ['before-publish', 'after-publish', 'before-restart', 'after-restart'] as const;
export type HookStage = (typeof HOOK_STAGES)[number];
export const RELAY_MODES = ['auto', 'tunnel', 'store-forward'] as const;
export type RelayMode = (typeof RELAY_MODES)[number];

/** Hooks of the publish preparation run on the Ferry server; all others on each target. */
export const runOnForStage = (stage: HookStage): 'server' | 'target' => (stage === 'before-publish' ? 'server' : 'target');

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;
const name = z.string().trim().min(1).max(64)
  .regex(NAME, 'must start with a letter or digit and hold only letters, digits, ".", "_", "-" or "@"');
/** A reference to another entry by name; checked against the file and the database later. */
const ref = z.string().trim().min(1);
const text = z.string().trim().min(1);

/** Whole numbers may arrive as strings (CSV cells, quoted YAML). */
const int = (min: number, max: number) => z.preprocess(
  (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  z.number().int().min(min).max(max),
);

/** A list given as a YAML list or as "a;b" / "a|b" text (CSV cells). */
const nameList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(/[;|]/).map((s) => s.trim()).filter(Boolean) : v),
  z.array(ref),
);

const credential = z.strictObject({
  name,
  username: text,
  privateKey: z.string().min(1).optional(),
  passphrase: z.string().optional(),
  password: z.string().min(1).optional(),
});

const host = z.strictObject({
  name,
  address: text.regex(/^\S+$/, 'must not contain spaces'),
  port: int(1, 65535).optional(),
  credential: ref,
  // null or "" removes the jump host / the pinned key; leaving the field out keeps what is stored.
  jump: z.string().trim().nullable().optional(),
  hostKey: z.string().trim().nullable().optional(),
  relayMode: z.enum(RELAY_MODES).optional(),
  // Overrides the project's deploy directory on this host; null or "" removes the override.
  deployDir: z.string().trim().regex(/^\//, 'must be an absolute path').or(z.literal('')).nullable().optional(),
  project: ref.optional(),
  groups: nameList.optional(),
});

const processEntry = z.strictObject({
  name,
  start: text,
  stop: text,
  status: z.string().trim().optional(),
  groups: nameList.optional(),
});

const hook = z.strictObject({
  stage: z.enum(HOOK_STAGES),
  script: text,
  name: name.optional(),
  timeout: int(1, 86_400).optional(),
});

const project = z.strictObject({
  name,
  description: z.string().trim().optional(),
  svnUrl: text.regex(/^(svn|svn\+ssh|https?|file):\/\/\S+$/, 'must start with svn://, svn+ssh://, http://, https:// or file://'),
  svnUsername: z.string().trim().optional(),
  svnPassword: z.string().nullable().optional(),
  deployDir: text
    .refine((p) => p.startsWith('/'), 'must be an absolute path')
    .refine((p) => !p.startsWith('/') || (p.replace(/\/+$/, '') !== '' && !p.split('/').includes('..')), 'must not be "/" or contain ".."'),
  keepSnapshots: int(1, 1000).optional(),
  concurrency: int(1, 1000).optional(),
  groups: z.record(name, z.array(ref).nullable().transform((hosts) => hosts ?? [])).optional(),
  processes: z.array(processEntry).optional(),
  hooks: z.array(hook).optional(),
});

const user = z.strictObject({
  name,
  role: z.enum(ROLES as readonly [Role, ...Role[]]),
  password: z.string().min(8, 'at least 8 characters').optional(),
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
