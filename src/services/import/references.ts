// Cross-entry checks: every name an entry refers to must be in the same file or (when known) in the database,
// and jump hosts must not form a cycle.
import { tk } from '../../lib/messages.ts';
import type { Problems } from './problems.ts';
import type { ImportDocument } from './schema.ts';

/** What the database already holds, by name. */
export interface KnownNames {
  credentials: Set<string>;
  /** Host name -> name of its jump host (null: none). */
  hosts: Map<string, string | null>;
  /** Project name -> its group names. */
  projects: Map<string, Set<string>>;
}

/**
 * With `known` null (parsing, no database at hand) a name missing from the file is not an error yet: it may be stored.
 */
export function checkReferences(doc: ImportDocument, known: KnownNames | null, problems: Problems): void {
  const fileCredentials = new Set(doc.credentials.map((c) => c.name));
  const fileHosts = new Map(doc.hosts.map((h) => [h.name, h]));
  const fileProjects = new Map(doc.projects.map((p) => [p.name, p]));
  const missing = (inFile: boolean, inDb: boolean | undefined) => !inFile && known !== null && !inDb;

  doc.hosts.forEach((h, i) => {
    if (missing(fileCredentials.has(h.credential), known?.credentials.has(h.credential))) {
      problems.add(['hosts', i, 'credential'], tk('unknown credential "{{name}}"'), { name: h.credential });
    }
    if (h.jump === h.name) problems.add(['hosts', i, 'jump'], tk('a host cannot be its own jump host'));
    else if (h.jump && missing(fileHosts.has(h.jump), known?.hosts.has(h.jump))) problems.add(['hosts', i, 'jump'], tk('unknown host "{{name}}"'), { name: h.jump });
    if (h.project && missing(fileProjects.has(h.project), known?.projects.has(h.project))) {
      problems.add(['hosts', i, 'project'], tk('unknown project "{{name}}"'), { name: h.project });
    }
  });
  checkJumpCycles(doc, known, problems);

  doc.projects.forEach((p, pi) => {
    for (const [group, members] of Object.entries(p.groups ?? {})) {
      members.forEach((hostName, j) => {
        if (missing(fileHosts.has(hostName), known?.hosts.has(hostName))) problems.add(['projects', pi, 'groups', group, j], tk('unknown host "{{name}}"'), { name: hostName });
      });
    }
    // Groups a process may name: the file's, those hosts put themselves into (CSV), and (when known) the stored ones.
    const groups = new Set([
      ...Object.keys(p.groups ?? {}),
      ...doc.hosts.filter((h) => h.project === p.name).flatMap((h) => h.groups ?? []),
      ...(known?.projects.get(p.name) ?? []),
    ]);
    p.processes?.forEach((proc, k) => {
      proc.groups?.forEach((group, j) => {
        if (missing(groups.has(group), false)) problems.add(['projects', pi, 'processes', k, 'groups', j], tk('unknown group "{{name}}"'), { name: group });
      });
    });
  });

  doc.users.forEach((u, i) => {
    for (const project of Object.keys(u.grants ?? {})) {
      if (missing(fileProjects.has(project), known?.projects.has(project))) problems.add(['users', i, 'grants', project], tk('unknown project'));
    }
  });
}

/** Follows each file host's jump chain (file entries override stored hosts) and reports chains that loop. */
function checkJumpCycles(doc: ImportDocument, known: KnownNames | null, problems: Problems): void {
  const fileHosts = new Map(doc.hosts.map((h) => [h.name, h]));
  const jumpOf = (name: string): string | null => {
    const entry = fileHosts.get(name);
    // Left out in the file: the stored jump host stays.
    if (entry && entry.jump !== undefined) return entry.jump;
    return known?.hosts.get(name) ?? null;
  };
  doc.hosts.forEach((h, i) => {
    if (h.jump === h.name) return;
    const chain = [h.name];
    for (let next = jumpOf(h.name); next; next = jumpOf(next)) {
      const at = chain.indexOf(next);
      if (at === 0) {
        problems.add(['hosts', i, 'jump'], tk('jump hosts form a cycle: {{chain}}'), { chain: [...chain, next].join(' -> ') });
        return;
      }
      // A loop further along the chain is reported at the hosts inside it.
      if (at > 0) return;
      chain.push(next);
    }
  });
}
