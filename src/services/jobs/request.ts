// Request values every kind of job shares, checked before anything is stored: a job id from a URL, lists of names,
// and the hosts chosen by name or through a host group of the project.
import { FerryError, notFound } from '../../lib/errors.ts';
import { fill, tk } from '../../lib/messages.ts';
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

/** 404 for a job id that is not there (or not visible). */
export const jobNotFound = (id: number) => new FerryError('not-found', tk('Job #{{id}} does not exist.'), { params: { id } });

export const stringList = (value: unknown, field: string): string[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new FerryError('invalid', tk('"{{field}}" must be a list of names.'), { params: { field }, fields: { [field]: tk('must be a list of strings') } });
  return value as string[];
};

/** Hosts named directly or through groups; all must belong to one of the project's groups. */
export function selectHosts(project: ProjectFull, hostNames: string[], groupNames: string[]): { id: number; name: string }[] {
  const inProject = new Map<string, { id: number; name: string }>();
  for (const g of project.groups) for (const h of g.hosts) inProject.set(h.name, h);
  const chosen = new Map<string, { id: number; name: string }>();
  for (const gName of groupNames) {
    const group = project.groups.find((g) => g.name === gName);
    if (!group) throw new FerryError('invalid', tk('Project "{{project}}" has no host group "{{group}}".'), { params: { project: project.name, group: gName }, fields: { groups: fill(tk('unknown group "{{group}}"'), { group: gName }) } });
    for (const h of group.hosts) chosen.set(h.name, h);
  }
  for (const hName of hostNames) {
    const host = inProject.get(hName);
    if (!host) throw new FerryError('invalid', tk('Host "{{host}}" is not in any host group of project "{{project}}".'), { params: { host: hName, project: project.name }, fields: { hosts: fill(tk('unknown host "{{host}}"'), { host: hName }) } });
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
