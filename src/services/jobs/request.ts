// Request values every kind of job shares, checked before anything is stored: a job id from a URL, lists of names,
// and the hosts chosen by name or through a host group of the project.
import { badRequest, notFound } from '../../lib/errors.ts';
import { safeWholeNumber } from '../paging.ts';
import type { ProjectFull } from './store.ts';

/**
 * A job id from a URL: plain digits, exact as a number. Anything else is answered like an unknown job (404), so odd
 * input never reaches the database.
 */
export function jobIdParam(value: unknown): number {
  const id = safeWholeNumber(value);
  if (id === undefined || id <= 0) throw notFound('That job');
  return id;
}

export const stringList = (value: unknown, field: string): string[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw badRequest(`"${field}" must be a list of names.`, { [field]: 'must be a list of strings' });
  return value as string[];
};

/** Hosts named directly or through groups; all must belong to one of the project's groups. */
export function selectHosts(project: ProjectFull, hostNames: string[], groupNames: string[]): { id: number; name: string }[] {
  const inProject = new Map<string, { id: number; name: string }>();
  for (const g of project.groups) for (const h of g.hosts) inProject.set(h.name, h);
  const chosen = new Map<string, { id: number; name: string }>();
  for (const gName of groupNames) {
    const group = project.groups.find((g) => g.name === gName);
    if (!group) throw badRequest(`Project "${project.name}" has no host group "${gName}".`, { groups: `unknown group "${gName}"` });
    for (const h of group.hosts) chosen.set(h.name, h);
  }
  for (const hName of hostNames) {
    const host = inProject.get(hName);
    if (!host) throw badRequest(`Host "${hName}" is not in any host group of project "${project.name}".`, { hosts: `unknown host "${hName}"` });
    chosen.set(host.name, host);
  }
  return [...chosen.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The exclusions a publish job stored in its params ("this folder except these"); none for older jobs. */
export function excludeOf(params: string): string[] {
  const stored = (JSON.parse(params) as { exclude?: unknown }).exclude;
  return Array.isArray(stored) ? stored.filter((p): p is string => typeof p === 'string') : [];
}

/** Whether a publish job was asked to overwrite files edited by hand (stored in its params). */
export function overwriteDriftOf(params: string): boolean {
  return (JSON.parse(params) as { overwriteDrift?: unknown }).overwriteDrift === true;
}
