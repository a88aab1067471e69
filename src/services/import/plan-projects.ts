// Planner for projects and what lives inside them: host groups (membership), processes and hooks.
import { DEFAULTS } from '../../config.ts';
import { encryptOptional } from '../../lib/crypto.ts';
import { item, sameSecret, sameSet, type BuiltImport, type Stored } from './plan-common.ts';
import type { ImportDocument, ProjectEntry } from './schema.ts';

export function planProjects(doc: ImportDocument, stored: Stored, key: Buffer, out: BuiltImport): void {
  for (const p of doc.projects) {
    const cur = stored.projects.get(p.name);
    if (!cur) {
      out.plan.projects.push(item('project', p.name, null));
      out.steps.push(async (tx, ids) => {
        const row = await tx.project.create({
          data: {
            name: p.name, description: p.description ?? '', svnUrl: p.svnUrl, svnUsername: p.svnUsername ?? '',
            svnPasswordEnc: encryptOptional(key, p.svnPassword), deployDir: p.deployDir,
            keepSnapshots: p.keepSnapshots ?? DEFAULTS.keepSnapshots, concurrency: p.concurrency ?? DEFAULTS.concurrency,
            requireApproval: p.requireApproval ?? false, rollbackNeedsApproval: p.rollbackNeedsApproval ?? false,
            approvalHours: p.approvalHours ?? DEFAULTS.approvalHours,
          },
        });
        ids.remember('project', p.name, row.id);
      });
      continue;
    }
    const changes: string[] = [];
    const data: {
      description?: string; svnUrl?: string; svnUsername?: string; deployDir?: string; keepSnapshots?: number; concurrency?: number;
      requireApproval?: boolean; rollbackNeedsApproval?: boolean; approvalHours?: number;
    } = {};
    if (p.description !== undefined && cur.description !== p.description) { changes.push('description'); data.description = p.description; }
    if (cur.svnUrl !== p.svnUrl) { changes.push('svnUrl'); data.svnUrl = p.svnUrl; }
    if (p.svnUsername !== undefined && cur.svnUsername !== p.svnUsername) { changes.push('svnUsername'); data.svnUsername = p.svnUsername; }
    const passwordChanged = p.svnPassword !== undefined && !sameSecret(key, cur.svnPasswordEnc, p.svnPassword);
    if (passwordChanged) changes.push('svnPassword (secret)');
    if (cur.deployDir !== p.deployDir) { changes.push('deployDir'); data.deployDir = p.deployDir; }
    if (p.keepSnapshots !== undefined && cur.keepSnapshots !== p.keepSnapshots) { changes.push('keepSnapshots'); data.keepSnapshots = p.keepSnapshots; }
    if (p.concurrency !== undefined && cur.concurrency !== p.concurrency) { changes.push('concurrency'); data.concurrency = p.concurrency; }
    if (p.requireApproval !== undefined && cur.requireApproval !== p.requireApproval) { changes.push('requireApproval'); data.requireApproval = p.requireApproval; }
    if (p.rollbackNeedsApproval !== undefined && cur.rollbackNeedsApproval !== p.rollbackNeedsApproval) { changes.push('rollbackNeedsApproval'); data.rollbackNeedsApproval = p.rollbackNeedsApproval; }
    if (p.approvalHours !== undefined && cur.approvalHours !== p.approvalHours) { changes.push('approvalHours'); data.approvalHours = p.approvalHours; }
    out.plan.projects.push(item('project', p.name, changes));
    if (!changes.length) continue;
    out.steps.push(async (tx) => {
      await tx.project.update({
        where: { id: cur.id },
        data: { ...data, ...(passwordChanged && { svnPasswordEnc: encryptOptional(key, p.svnPassword) }) },
      });
    });
  }
}

/**
 * Group membership follows the file for what it names: a group listed under a project gets exactly those hosts
 * (plus hosts that name it from their own entry), and a host entry with project+groups is in exactly those
 * groups of that project. Groups the file does not touch are left alone, except for dropping such hosts.
 */
export function planGroups(doc: ImportDocument, stored: Stored, out: BuiltImport): void {
  const projectNames = [...new Set([...doc.projects.map((p) => p.name), ...doc.hosts.flatMap((h) => (h.project ? [h.project] : []))])];
  for (const projectName of projectNames) {
    const fileGroups: Record<string, string[]> = doc.projects.find((p) => p.name === projectName)?.groups ?? {};
    const memberHosts = doc.hosts.filter((h) => h.project === projectName);
    const placedHosts = new Set(memberHosts.map((h) => h.name));
    const storedGroups = new Map((stored.projects.get(projectName)?.groups ?? []).map((g) => [g.name, g]));
    const touched = new Set([...Object.keys(fileGroups), ...memberHosts.flatMap((h) => h.groups ?? [])]);

    for (const groupName of new Set([...touched, ...storedGroups.keys()])) {
      const cur = storedGroups.get(groupName);
      const joining = memberHosts.filter((h) => h.groups?.includes(groupName)).map((h) => h.name);
      const wanted = groupName in fileGroups
        ? new Set([...fileGroups[groupName], ...joining])
        : new Set([...(cur?.hosts.map((h) => h.name) ?? []).filter((n) => !placedHosts.has(n)), ...joining]);
      if (!cur) {
        out.plan.groups.push(item('group', groupName, null, projectName));
        out.steps.push(async (tx, ids) => {
          const row = await tx.hostGroup.create({
            data: { projectId: await ids.project(projectName), name: groupName, hosts: { connect: await ids.hostRefs([...wanted]) } },
          });
          ids.remember('group', `${projectName}/${groupName}`, row.id);
        });
        continue;
      }
      const changed = !sameSet(cur.hosts.map((h) => h.name), wanted);
      // Stored groups the file does not name appear only when they lose a host.
      if (changed || touched.has(groupName)) out.plan.groups.push(item('group', groupName, changed ? ['hosts'] : [], projectName));
      if (!changed) continue;
      out.steps.push(async (tx, ids) => {
        await tx.hostGroup.update({ where: { id: cur.id }, data: { hosts: { set: await ids.hostRefs([...wanted]) } } });
      });
    }
  }
}

function storedProjectOf(stored: Stored, p: ProjectEntry) {
  return stored.projects.get(p.name);
}

export function planProcesses(doc: ImportDocument, stored: Stored, out: BuiltImport): void {
  for (const p of doc.projects) {
    const storedProcesses = new Map((storedProjectOf(stored, p)?.processes ?? []).map((x) => [x.name, x]));
    for (const proc of p.processes ?? []) {
      const cur = storedProcesses.get(proc.name);
      if (!cur) {
        out.plan.processes.push(item('process', proc.name, null, p.name));
        out.steps.push(async (tx, ids) => {
          await tx.process.create({
            data: {
              projectId: await ids.project(p.name), name: proc.name, startCmd: proc.start, stopCmd: proc.stop, statusCmd: proc.status ?? '',
              groups: { connect: await ids.groupRefs(p.name, proc.groups ?? []) },
            },
          });
        });
        continue;
      }
      const changes: string[] = [];
      if (cur.startCmd !== proc.start) changes.push('start');
      if (cur.stopCmd !== proc.stop) changes.push('stop');
      if (proc.status !== undefined && cur.statusCmd !== proc.status) changes.push('status');
      if (proc.groups !== undefined && !sameSet(cur.groups.map((g) => g.name), proc.groups)) changes.push('groups');
      out.plan.processes.push(item('process', proc.name, changes, p.name));
      if (!changes.length) continue;
      out.steps.push(async (tx, ids) => {
        await tx.process.update({
          where: { id: cur.id },
          data: {
            startCmd: proc.start, stopCmd: proc.stop,
            ...(proc.status !== undefined && { statusCmd: proc.status }),
            ...(changes.includes('groups') && { groups: { set: await ids.groupRefs(p.name, proc.groups ?? []) } }),
          },
        });
      });
    }
  }
}

export function planHooks(doc: ImportDocument, stored: Stored, out: BuiltImport): void {
  for (const p of doc.projects) {
    const storedHooks = new Map((storedProjectOf(stored, p)?.hooks ?? []).map((x) => [x.name, x]));
    for (const hook of p.hooks ?? []) {
      const cur = storedHooks.get(hook.name);
      if (!cur) {
        out.plan.hooks.push(item('hook', hook.name, null, p.name));
        out.steps.push(async (tx, ids) => {
          await tx.hook.create({
            data: {
              projectId: await ids.project(p.name), name: hook.name, stage: hook.stage, runOn: hook.runOn, script: hook.script,
              timeoutSec: hook.timeoutSec ?? DEFAULTS.hookTimeoutSec, position: hook.position,
            },
          });
        });
        continue;
      }
      const changes: string[] = [];
      if (cur.stage !== hook.stage) changes.push('stage');
      if (cur.runOn !== hook.runOn) changes.push('runOn');
      if (cur.script !== hook.script) changes.push('script');
      if (hook.timeoutSec !== undefined && cur.timeoutSec !== hook.timeoutSec) changes.push('timeout');
      if (cur.position !== hook.position) changes.push('position');
      out.plan.hooks.push(item('hook', hook.name, changes, p.name));
      if (!changes.length) continue;
      out.steps.push(async (tx) => {
        await tx.hook.update({
          where: { id: cur.id },
          data: {
            stage: hook.stage, runOn: hook.runOn, script: hook.script, position: hook.position,
            ...(hook.timeoutSec !== undefined && { timeoutSec: hook.timeoutSec }),
          },
        });
      });
    }
  }
}
