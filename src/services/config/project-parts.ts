// The parts of a project: host groups (which hosts a release goes to), processes (start/stop/status
// commands per group) and hooks (scripts run at a stage of a publish or restart).
import { DEFAULTS } from '../../config.ts';
import { z } from 'zod';
import { FerryError, notFound } from '../../lib/errors.ts';
import type { Ctx, Services } from '../context.ts';
import { assertAdmin } from '../permissions.ts';
import { recordOp } from '../oplog.ts';
import { changeDetail, changedFields, formText, idList, intField, invalid, nameField, parseForm, pick } from './form.ts';
import { commandRule, RANGES, requiredCommandRule, scriptRule } from './rules.ts';

export const HOOK_STAGES = ['before-publish', 'after-publish', 'before-restart', 'after-restart'] as const;
export type HookStage = (typeof HOOK_STAGES)[number];

/** Hooks preparing a publish run on the Ferry server (before anything is sent); all others on each target. */
export const runOnForStage = (stage: HookStage): 'server' | 'target' => (stage === 'before-publish' ? 'server' : 'target');

export type PartKind = 'group' | 'process' | 'hook';

const groupSchema = z.object({ name: nameField, hosts: idList });
const processSchema = z.object({
  name: nameField,
  startCmd: formText(requiredCommandRule),
  stopCmd: formText(requiredCommandRule),
  statusCmd: formText(commandRule),
  groups: idList,
});
const hookSchema = z.object({
  name: nameField,
  stage: z.enum(HOOK_STAGES, { error: `must be one of ${HOOK_STAGES.join(', ')}` }),
  script: formText(scriptRule),
  timeoutSec: intField(RANGES.hookTimeoutSec.min, RANGES.hookTimeoutSec.max),
  position: intField(0, 1000),
});

/** Values for the "add" forms. */
export const newPartValues = {
  group: () => ({ name: '', hosts: [] as number[] }),
  process: () => ({ name: '', startCmd: '', stopCmd: '', statusCmd: '', groups: [] as number[] }),
  hook: () => ({ name: '', stage: 'after-publish', script: '', timeoutSec: DEFAULTS.hookTimeoutSec, position: 0 }),
};

async function loadProject(svc: Pick<Services, 'db'>, projectId: number) {
  const project = await svc.db.project.findUnique({ where: { id: projectId }, select: { id: true, name: true } });
  if (!project) throw notFound('That project');
  return project;
}

async function assertUniqueName(exists: boolean, kind: string, name: string) {
  if (exists) throw new FerryError('conflict', `This project already has a ${kind} named "${name}".`, { fields: { name: 'already exists in this project' } });
}

async function checkHostIds(svc: Pick<Services, 'db'>, ids: number[]) {
  const found = await svc.db.host.count({ where: { id: { in: ids } } });
  if (found !== ids.length) throw invalid({ hosts: 'one of the chosen hosts no longer exists; reload the page' });
}

async function checkGroupIds(svc: Pick<Services, 'db'>, projectId: number, ids: number[]) {
  const found = await svc.db.hostGroup.count({ where: { id: { in: ids }, projectId } });
  if (found !== ids.length) throw invalid({ groups: 'one of the chosen groups is not part of this project; reload the page' });
}

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);
const connectIds = (list: number[]) => list.map((id) => ({ id }));

// ---- Host groups

export async function getGroup(svc: Pick<Services, 'db'>, projectId: number, groupId: number) {
  const group = await svc.db.hostGroup.findFirst({ where: { id: groupId, projectId }, include: { hosts: { select: { id: true } } } });
  if (!group) throw notFound('That host group');
  return { id: group.id, name: group.name, hosts: ids(group.hosts) };
}

export async function createGroup(svc: Services, ctx: Ctx, projectId: number, input: unknown) {
  const project = await loadProject(svc, projectId);
  await assertAdmin(svc, ctx, 'group.create', project.name);
  const data = parseForm(groupSchema, input);
  await assertUniqueName(Boolean(await svc.db.hostGroup.findUnique({ where: { projectId_name: { projectId, name: data.name } } })), 'host group', data.name);
  await checkHostIds(svc, data.hosts);
  const group = await svc.db.hostGroup.create({ data: { projectId, name: data.name, hosts: { connect: connectIds(data.hosts) } } });
  await recordOp(svc, ctx, { action: 'group.create', result: 'ok', project: project.name, target: data.name, detail: `${data.hosts.length} host(s)` });
  return { id: group.id, name: group.name };
}

export async function updateGroup(svc: Services, ctx: Ctx, projectId: number, groupId: number, input: unknown) {
  const project = await loadProject(svc, projectId);
  const before = await getGroup(svc, projectId, groupId);
  await assertAdmin(svc, ctx, 'group.update', project.name);
  const data = parseForm(groupSchema, input);
  if (data.name !== before.name) {
    await assertUniqueName(Boolean(await svc.db.hostGroup.findUnique({ where: { projectId_name: { projectId, name: data.name } } })), 'host group', data.name);
  }
  await checkHostIds(svc, data.hosts);
  const changed = changedFields(before, data);
  if (changed.length) await svc.db.hostGroup.update({ where: { id: groupId }, data: { name: data.name, hosts: { set: connectIds(data.hosts) } } });
  await recordOp(svc, ctx, { action: 'group.update', result: 'ok', project: project.name, target: data.name, detail: changeDetail(changed) });
  return { id: groupId, name: data.name };
}

export async function deleteGroup(svc: Services, ctx: Ctx, projectId: number, groupId: number) {
  const project = await loadProject(svc, projectId);
  const group = await getGroup(svc, projectId, groupId);
  await assertAdmin(svc, ctx, 'group.delete', project.name);
  await svc.db.hostGroup.delete({ where: { id: groupId } });
  await recordOp(svc, ctx, { action: 'group.delete', result: 'ok', project: project.name, target: group.name });
  return { name: group.name };
}

// ---- Processes

export async function getProcess(svc: Pick<Services, 'db'>, projectId: number, processId: number) {
  const p = await svc.db.process.findFirst({ where: { id: processId, projectId }, include: { groups: { select: { id: true } } } });
  if (!p) throw notFound('That process');
  return { id: p.id, name: p.name, startCmd: p.startCmd, stopCmd: p.stopCmd, statusCmd: p.statusCmd, groups: ids(p.groups) };
}

export async function createProcess(svc: Services, ctx: Ctx, projectId: number, input: unknown) {
  const project = await loadProject(svc, projectId);
  await assertAdmin(svc, ctx, 'process.create', project.name);
  const data = parseForm(processSchema, input);
  await assertUniqueName(Boolean(await svc.db.process.findUnique({ where: { projectId_name: { projectId, name: data.name } } })), 'process', data.name);
  await checkGroupIds(svc, projectId, data.groups);
  const p = await svc.db.process.create({
    data: { projectId, ...pick(data, ['name', 'startCmd', 'stopCmd', 'statusCmd']), groups: { connect: connectIds(data.groups) } },
  });
  await recordOp(svc, ctx, { action: 'process.create', result: 'ok', project: project.name, target: data.name, detail: `${data.groups.length} group(s)` });
  return { id: p.id, name: p.name };
}

export async function updateProcess(svc: Services, ctx: Ctx, projectId: number, processId: number, input: unknown) {
  const project = await loadProject(svc, projectId);
  const before = await getProcess(svc, projectId, processId);
  await assertAdmin(svc, ctx, 'process.update', project.name);
  const data = parseForm(processSchema, input);
  if (data.name !== before.name) {
    await assertUniqueName(Boolean(await svc.db.process.findUnique({ where: { projectId_name: { projectId, name: data.name } } })), 'process', data.name);
  }
  await checkGroupIds(svc, projectId, data.groups);
  const changed = changedFields(before, data);
  if (changed.length) {
    await svc.db.process.update({
      where: { id: processId },
      data: { ...pick(data, ['name', 'startCmd', 'stopCmd', 'statusCmd']), groups: { set: connectIds(data.groups) } },
    });
  }
  await recordOp(svc, ctx, { action: 'process.update', result: 'ok', project: project.name, target: data.name, detail: changeDetail(changed) });
  return { id: processId, name: data.name };
}

export async function deleteProcess(svc: Services, ctx: Ctx, projectId: number, processId: number) {
  const project = await loadProject(svc, projectId);
  const p = await getProcess(svc, projectId, processId);
  await assertAdmin(svc, ctx, 'process.delete', project.name);
  await svc.db.process.delete({ where: { id: processId } });
  await recordOp(svc, ctx, { action: 'process.delete', result: 'ok', project: project.name, target: p.name });
  return { name: p.name };
}

// ---- Hooks

export async function getHook(svc: Pick<Services, 'db'>, projectId: number, hookId: number) {
  const h = await svc.db.hook.findFirst({ where: { id: hookId, projectId } });
  if (!h) throw notFound('That hook');
  return { id: h.id, name: h.name, stage: h.stage, runOn: h.runOn, script: h.script, timeoutSec: h.timeoutSec, position: h.position };
}

const HOOK_FIELDS = ['name', 'stage', 'script', 'timeoutSec', 'position'] as const;

export async function createHook(svc: Services, ctx: Ctx, projectId: number, input: unknown) {
  const project = await loadProject(svc, projectId);
  await assertAdmin(svc, ctx, 'hook.create', project.name);
  const data = parseForm(hookSchema, input);
  await assertUniqueName(Boolean(await svc.db.hook.findUnique({ where: { projectId_name: { projectId, name: data.name } } })), 'hook', data.name);
  const hook = await svc.db.hook.create({ data: { projectId, ...pick(data, HOOK_FIELDS), runOn: runOnForStage(data.stage) } });
  await recordOp(svc, ctx, { action: 'hook.create', result: 'ok', project: project.name, target: data.name, detail: `stage ${data.stage}, runs on ${hook.runOn}` });
  return { id: hook.id, name: hook.name };
}

export async function updateHook(svc: Services, ctx: Ctx, projectId: number, hookId: number, input: unknown) {
  const project = await loadProject(svc, projectId);
  const before = await getHook(svc, projectId, hookId);
  await assertAdmin(svc, ctx, 'hook.update', project.name);
  const data = parseForm(hookSchema, input);
  if (data.name !== before.name) {
    await assertUniqueName(Boolean(await svc.db.hook.findUnique({ where: { projectId_name: { projectId, name: data.name } } })), 'hook', data.name);
  }
  const changed = changedFields(pick(before, HOOK_FIELDS), pick(data, HOOK_FIELDS));
  if (changed.length) await svc.db.hook.update({ where: { id: hookId }, data: { ...pick(data, HOOK_FIELDS), runOn: runOnForStage(data.stage) } });
  await recordOp(svc, ctx, { action: 'hook.update', result: 'ok', project: project.name, target: data.name, detail: changeDetail(changed) });
  return { id: hookId, name: data.name };
}

export async function deleteHook(svc: Services, ctx: Ctx, projectId: number, hookId: number) {
  const project = await loadProject(svc, projectId);
  const hook = await getHook(svc, projectId, hookId);
  await assertAdmin(svc, ctx, 'hook.delete', project.name);
  await svc.db.hook.delete({ where: { id: hookId } });
  await recordOp(svc, ctx, { action: 'hook.delete', result: 'ok', project: project.name, target: hook.name });
  return { name: hook.name };
}

/** The part services by kind, so the router can handle the three alike. */
export const parts = {
  group: { get: getGroup, create: createGroup, update: updateGroup, remove: deleteGroup },
  process: { get: getProcess, create: createProcess, update: updateProcess, remove: deleteProcess },
  hook: { get: getHook, create: createHook, update: updateHook, remove: deleteHook },
} satisfies Record<PartKind, unknown>;
