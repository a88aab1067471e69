// Reads an import file (YAML, JSON or a CSV of hosts) into a checked ImportDocument, or throws one 400 listing every problem.
import { createHash } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import ssh2 from 'ssh2';
import YAML from 'yaml';
import { normalizeHostKey } from '../../deploy/hostkey.ts';
import { tk } from '../../lib/messages.ts';
import { IMPORT_LIMITS } from '../../config.ts';
import { addZodIssues, fileError, issueMessage, Problems } from './problems.ts';
import { checkReferences } from './references.ts';
import { estimateNesting } from './nesting.ts';
import type { HookEntry, ImportDocument, ImportFileInput, ProjectEntry } from './schema.ts';
import { importFileSchema, runOnForStage } from './schema.ts';

const sshUtils = ssh2.utils;

export type ImportFormat = 'yaml' | 'json' | 'csv' | 'auto';

export const CSV_COLUMNS = ['name', 'address', 'port', 'credential', 'jump', 'project', 'groups', 'hostKey', 'relayMode', 'deployDir'] as const;

export function parseImportFile(text: string, format: ImportFormat, filename?: string): ImportDocument {
  if (text.length > IMPORT_LIMITS.maxFileChars) {
    const mb = (IMPORT_LIMITS.maxFileChars / 1_000_000).toFixed(0);
    throw fileError(tk('The import file is too large: at most {{mb}} million characters. Split it into several files.'), { key: tk('too large') }, { mb });
  }
  const chosen = format === 'auto' ? detectFormat(text, filename) : format;
  if (!text.trim()) throw fileError(tk('The import file is empty.'), { key: tk('empty') });
  // Parsers take seconds on a line of a million "[" or "- ": the nesting is estimated from the text first. The
  // estimate counts a level or two more than the decoded data has (the root, compact "- key"), hence the margin.
  if (chosen !== 'csv' && estimateNesting(text, IMPORT_LIMITS.maxDepth + 2) > IMPORT_LIMITS.maxDepth + 2) throw tooDeep();
  const data = chosen === 'csv' ? csvToData(text) : readStructured(text, chosen);
  return parseImportData(data);
}

/** Checks already-decoded data (e.g. a JSON request body) the same way as a file. */
export function parseImportData(data: unknown): ImportDocument {
  const problems = new Problems();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw fileError(tk('The import file must be a mapping with credentials, hosts, projects and/or users.'), { key: tk('must be a mapping') });
  }
  checkDepth(data);
  const result = importFileSchema.safeParse(data, { error: issueMessage });
  if (!result.success) {
    addZodIssues(problems, result.error.issues);
    problems.throwIfAny();
  }
  const doc = normalize(result.data as ImportFileInput, problems);
  if (!doc.credentials.length && !doc.hosts.length && !doc.projects.length && !doc.users.length) {
    problems.add([], tk('nothing to import: the file has no credentials, hosts, projects or users'));
  }
  checkDuplicates(doc, problems);
  checkReferences(doc, null, problems);
  problems.throwIfAny();
  return doc;
}

function detectFormat(text: string, filename?: string): 'yaml' | 'json' | 'csv' {
  const ext = filename?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === 'json') return 'json';
  if (ext === 'csv') return 'csv';
  if (ext === 'yaml' || ext === 'yml') return 'yaml';
  const start = text.replace(/^\uFEFF/, '').trimStart();
  if (start.startsWith('{') || start.startsWith('[')) return 'json';
  const header = start.split(/\r?\n/, 1)[0] ?? '';
  if (/^"?name"?\s*,/.test(header) && !header.includes(':')) return 'csv';
  return 'yaml';
}

function readStructured(text: string, format: 'yaml' | 'json'): unknown {
  if (format === 'json') {
    let data: unknown;
    try {
      data = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (err) {
      // Node quotes the start of the text in some messages; the text may hold secrets.
      const msg = (err as Error).message.replace(/, ".*" is not valid JSON$/s, '');
      throw fileError(tk('The file is not valid JSON: {{reason}}'), { key: tk('not valid JSON: {{reason}}'), params: { reason: msg } }, { reason: msg });
    }
    checkDepth(data);
    return data;
  }
  const parsed = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (parsed.errors.length) {
    const msg = parsed.errors[0].message.split('\n')[0];
    throw fileError(tk('The file is not valid YAML: {{reason}}'), { key: tk('not valid YAML: {{reason}}'), params: { reason: msg } }, { reason: msg });
  }
  let data: unknown;
  try {
    // maxAliasCount guards against alias bombs ("billion laughs"): yaml throws a ReferenceError past it.
    data = parsed.toJS({ maxAliasCount: IMPORT_LIMITS.maxAliasCount });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    const params = { max: IMPORT_LIMITS.maxAliasCount };
    throw fileError(
      tk('The file was refused: it uses aliases (*name) too often (more than {{max}} expansions); write the entries out instead.'),
      { key: tk('it uses aliases (*name) too often (more than {{max}} expansions); write the entries out instead'), params }, params,
    );
  }
  checkDepth(data);
  return data;
}

/** Import documents are a few levels deep; a far deeper one is refused before it is walked any further. */
function checkDepth(data: unknown): void {
  const stack: [unknown, number][] = [[data, 0]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= IMPORT_LIMITS.maxDepth) throw tooDeep();
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
}

function tooDeep() {
  const params = { max: IMPORT_LIMITS.maxDepth };
  return fileError(tk('The file was refused: it is nested more than {{max}} levels deep.'), { key: tk('it is nested more than {{max}} levels deep'), params }, params);
}

/** A CSV of hosts: header name,address,port,credential,jump,project,groups (groups split by ";" or "|"). */
function csvToData(text: string): unknown {
  let rows: string[][];
  try {
    rows = parseCsv(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false });
  } catch (err) {
    const msg = (err as Error).message;
    throw fileError(tk('The file is not valid CSV: {{reason}}'), { key: tk('not valid CSV: {{reason}}'), params: { reason: msg } }, { reason: msg });
  }
  const [header, ...records] = rows;
  const problems = new Problems();
  const columns = (header ?? []).map((c) => c.trim());
  columns.forEach((column, i) => {
    if (!(CSV_COLUMNS as readonly string[]).includes(column)) problems.add(['csv', 'columns', i], tk('unknown column "{{column}}" (expected {{columns}})'), { column, columns: CSV_COLUMNS.join(', ') });
  });
  for (const required of ['name', 'address', 'credential']) {
    if (!columns.includes(required)) problems.add(['csv', 'columns'], tk('the header needs a "{{column}}" column'), { column: required });
  }
  problems.throwIfAny();
  const hosts = records.map((cells) => {
    const host: Record<string, string> = {};
    // An empty cell means "not given": new hosts get the default, existing ones keep their value.
    columns.forEach((column, i) => { if (cells[i]) host[column] = cells[i]; });
    return host;
  });
  return { hosts };
}

function normalize(input: ImportFileInput, problems: Problems): ImportDocument {
  const credentials = (input.credentials ?? []).map((c, i) => {
    const base = { name: c.name, username: c.username };
    if (c.privateKey && c.password) {
      problems.add(['credentials', i, 'password'], tk('give either privateKey or password, not both'));
      return { ...base, fingerprint: '' };
    }
    if (c.password) {
      if (c.passphrase) problems.add(['credentials', i, 'passphrase'], tk('only used with privateKey'));
      return { ...base, password: c.password, fingerprint: '' };
    }
    if (!c.privateKey) {
      problems.add(['credentials', i, 'privateKey'], tk('required (or give password)'));
      return { ...base, fingerprint: '' };
    }
    const privateKey = normalizePrivateKey(c.privateKey);
    const passphrase = c.passphrase || undefined;
    const fingerprint = privateKeyFingerprint(privateKey, passphrase);
    if (!fingerprint) problems.add(['credentials', i, 'privateKey'], tk('not a valid private key (or wrong passphrase)'));
    return { ...base, privateKey, passphrase, fingerprint: fingerprint ?? '' };
  });

  const hosts = (input.hosts ?? []).map((h, i) => {
    let hostKey: string | null | undefined = h.hostKey === '' ? null : h.hostKey;
    if (hostKey) {
      try {
        hostKey = normalizeHostKey(hostKey);
      } catch {
        problems.add(['hosts', i, 'hostKey'], tk('not an SSH public key: expected "type base64", e.g. "ssh-ed25519 AAAAC3Nza..."'));
      }
    }
    if (h.groups && !h.project) problems.add(['hosts', i, 'project'], tk('required when groups are given'));
    return {
      name: h.name,
      address: h.address,
      port: h.port,
      credential: h.credential,
      jump: h.jump === '' ? null : h.jump,
      hostKey,
      relayMode: h.relayMode,
      deployDir: h.deployDir === '' ? null : h.deployDir,
      project: h.project,
      groups: h.project ? (h.groups ?? []) : undefined,
    };
  });

  const projects = (input.projects ?? []).map((p): ProjectEntry => ({
    name: p.name,
    description: p.description,
    svnUrl: p.svnUrl,
    svnUsername: p.svnUsername,
    svnPassword: p.svnPassword === '' ? null : p.svnPassword,
    deployDir: p.deployDir.length > 1 ? p.deployDir.replace(/\/+$/, '') : p.deployDir,
    keepSnapshots: p.keepSnapshots,
    concurrency: p.concurrency,
    groups: p.groups,
    processes: p.processes,
    hooks: p.hooks ? nameHooks(p.hooks) : undefined,
    requireApproval: p.requireApproval,
    rollbackNeedsApproval: p.rollbackNeedsApproval,
    approvalHours: p.approvalHours,
    notifications: p.notifications,
  }));

  const users = (input.users ?? []).map((u) => ({
    name: u.name,
    role: u.role,
    password: u.password,
    grants: u.grants ? Object.fromEntries(Object.entries(u.grants).map(([project, perms]) => [project, [...new Set(perms ?? [])]])) : undefined,
  }));

  return { credentials, hosts, projects, users };
}

/** Unnamed hooks are called "<stage>-<n>", n counting from 1 within that stage, in file order. */
function nameHooks(hooks: NonNullable<NonNullable<ImportFileInput['projects']>[number]['hooks']>): HookEntry[] {
  const perStage = new Map<string, number>();
  return hooks.map((h) => {
    const position = perStage.get(h.stage) ?? 0;
    perStage.set(h.stage, position + 1);
    return {
      name: h.name ?? `${h.stage}-${position + 1}`,
      stage: h.stage,
      runOn: runOnForStage(h.stage),
      script: h.script,
      timeoutSec: h.timeout,
      position,
    };
  });
}

/** Same key text however it was pasted: LF line ends and one final newline. */
function normalizePrivateKey(key: string): string {
  return `${key.replace(/\r\n?/g, '\n').trim()}\n`;
}

/** "SHA256:..." of the key's public half, as ssh-keygen -l prints it; null if unreadable or the passphrase is wrong. */

export function privateKeyFingerprint(privateKey: string, passphrase?: string): string | null {
  let parsed: ReturnType<typeof sshUtils.parseKey>;
  try {
    parsed = sshUtils.parseKey(privateKey, passphrase);
  } catch {
    return null;
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) return null;
  return `SHA256:${createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
}

function checkDuplicates(doc: ImportDocument, problems: Problems): void {
  const check = (section: string, names: string[], path: (i: number) => (string | number)[]) => {
    const seen = new Map<string, number>();
    names.forEach((entryName, i) => {
      const first = seen.get(entryName);
      if (first === undefined) seen.set(entryName, i);
      else problems.add(path(i), tk('duplicate name "{{name}}" (also {{entry}})'), { name: entryName, entry: `${section}[${first}]` });
    });
  };
  check('credentials', doc.credentials.map((c) => c.name), (i) => ['credentials', i, 'name']);
  check('hosts', doc.hosts.map((h) => h.name), (i) => ['hosts', i, 'name']);
  check('projects', doc.projects.map((p) => p.name), (i) => ['projects', i, 'name']);
  check('users', doc.users.map((u) => u.name), (i) => ['users', i, 'name']);
  doc.projects.forEach((p, pi) => {
    if (p.processes) check(`projects[${pi}].processes`, p.processes.map((x) => x.name), (i) => ['projects', pi, 'processes', i, 'name']);
    if (p.hooks) check(`projects[${pi}].hooks`, p.hooks.map((x) => x.name), (i) => ['projects', pi, 'hooks', i, 'name']);
    if (p.notifications) check(`projects[${pi}].notifications`, p.notifications.map((x) => x.name), (i) => ['projects', pi, 'notifications', i, 'name']);
  });
}
