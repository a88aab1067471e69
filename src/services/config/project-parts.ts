// The parts of a project: host groups (which hosts a release goes to), processes (start/stop/status
// commands per group) and hooks (scripts run at a stage of a publish or restart).
import { DEFAULTS } from '../../config.ts';
import { z } from 'zod';
import { FerryError, notFound } from '../../lib/errors.ts';
import type { Ctx, Services } from '../context.ts';
import { assertAdmin } from '../permissions.ts';
import { recordOp } from '../oplog.ts';
import { changeDetail, changedFields, formText, idList, intField, invalid, nameField, parseForm, pick } from './form.ts';
import { fill, tk } from '../../lib/messages.ts';
import { commandRule, ONE_OF, RANGES, requiredCommandRule, scriptRule } from './rules.ts';

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
  stage: z.enum(HOOK_STAGES, { error: fill(ONE_OF, { choices: HOOK_STAGES.join(', ') }) }),
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

async function checkHostIds(svc: Pick<Services, 'db'>, ids: number[]) {
  const found = await svc.db.host.count({ where: { id: { in: ids } } });
  if (found !== ids.length) throw invalid({ hosts: tk('one of the chosen hosts no longer exists; reload the page') });
}

async function checkGroupIds(svc: Pick<Services, 'db'>, projectId: number, ids: number[]) {
  const found = await svc.db.hostGroup.count({ where: { id: { in: ids }, projectId } });
  if (found !== ids.length) throw invalid({ groups: tk('one of the chosen groups is not part of this project; reload the page') });
}

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);
const connectIds = (list: number[]) => list.map((id) => ({ id }));

type Db = Services['db'];

/** What differs between the three kinds of part; partService adds loading, permissions, names, diffs and the log. */
interface PartSpec<S extends z.ZodType, View extends { id: number; name: string }> {
  /** Prefix of the operation log actions: `<action>.create`, `.update`, `.delete`. */
  action: PartKind;
  /** The message key naming a missing part: "That host group". */
  notFoundWhat: string;
  /** The message key of a name clash: 'This project already has a host group named "{{name}}".' */
  nameTakenMessage: string;
  schema: S;
  /** The part as the forms show it, or null when the project has no such part. */
  find(db: Db, projectId: number, id: number): Promise<View | null>;
  nameTaken(db: Db, projectId: number, name: string): Promise<boolean>;
  /** Checks references (hosts, groups) before anything is written. */
  checkRefs?(svc: Pick<Services, 'db'>, projectId: number, data: z.output<S>): Promise<void>;
  /** The fields an edit compares (the log names those that changed). */
  compared(values: View | z.output<S>): Record<string, unknown>;
  insert(db: Db, projectId: number, data: z.output<S>): Promise<{ id: number }>;
  save(db: Db, id: number, data: z.output<S>): Promise<unknown>;
  remove(db: Db, id: number): Promise<unknown>;
  /** The operation log detail of a create. */
  createdDetail(data: z.output<S>): string;
}

/** Get, create, update and delete for one kind of part: admins only, names unique per project, every change logged. */
function partService<S extends z.ZodType, View extends { id: number; name: string }>(spec: PartSpec<S, View>) {
  const notFoundWord = spec.notFoundWhat;
  const assertNameFree = async (db: Db, projectId: number, name: string) => {
    if (await spec.nameTaken(db, projectId, name)) {
      throw new FerryError('conflict', spec.nameTakenMessage, { params: { name }, fields: { name: tk('already exists in this project') } });
    }
  };

  async function get(svc: Pick<Services, 'db'>, projectId: number, id: number): Promise<View> {
    const part = await spec.find(svc.db, projectId, id);
    if (!part) throw notFound(notFoundWord);
    return part;
  }

  async function create(svc: Services, ctx: Ctx, projectId: number, input: unknown) {
    const project = await loadProject(svc, projectId);
    await assertAdmin(svc, ctx, `${spec.action}.create`, project.name);
    const data = parseForm(spec.schema, input) as z.output<S> & { name: string };
    await assertNameFree(svc.db, projectId, data.name);
    await spec.checkRefs?.(svc, projectId, data);
    const { id } = await spec.insert(svc.db, projectId, data);
    await recordOp(svc, ctx, { action: `${spec.action}.create`, result: 'ok', project: project.name, target: data.name, detail: spec.createdDetail(data) });
    return { id, name: data.name };
  }

  async function update(svc: Services, ctx: Ctx, projectId: number, id: number, input: unknown) {
    const project = await loadProject(svc, projectId);
    const before = await get(svc, projectId, id);
    await assertAdmin(svc, ctx, `${spec.action}.update`, project.name);
    const data = parseForm(spec.schema, input) as z.output<S> & { name: string };
    if (data.name !== before.name) await assertNameFree(svc.db, projectId, data.name);
    await spec.checkRefs?.(svc, projectId, data);
    const changed = changedFields(spec.compared(before), spec.compared(data));
    if (changed.length) await spec.save(svc.db, id, data);
    await recordOp(svc, ctx, { action: `${spec.action}.update`, result: 'ok', project: project.name, target: data.name, detail: changeDetail(changed) });
    return { id, name: data.name };
  }

  async function remove(svc: Services, ctx: Ctx, projectId: number, id: number) {
    const project = await loadProject(svc, projectId);
    const part = await get(svc, projectId, id);
    await assertAdmin(svc, ctx, `${spec.action}.delete`, project.name);
    await spec.remove(svc.db, id);
    await recordOp(svc, ctx, { action: `${spec.action}.delete`, result: 'ok', project: project.name, target: part.name });
    return { name: part.name };
  }

  return { get, create, update, remove };
}

const PROCESS_FIELDS = ['name', 'startCmd', 'stopCmd', 'statusCmd'] as const;
const HOOK_FIELDS = ['name', 'stage', 'script', 'timeoutSec', 'position'] as const;

/** The part services by kind, so the router can handle the three alike. */
export const parts = {
  group: partService({
    action: 'group',
    notFoundWhat: tk('That host group'),
    nameTakenMessage: tk('This project already has a host group named "{{name}}".'),
    schema: groupSchema,
    async find(db, projectId, id) {
      const group = await db.hostGroup.findFirst({ where: { id, projectId }, include: { hosts: { select: { id: true } } } });
      return group && { id: group.id, name: group.name, hosts: ids(group.hosts) };
    },
    nameTaken: async (db, projectId, name) => Boolean(await db.hostGroup.findUnique({ where: { projectId_name: { projectId, name } } })),
    checkRefs: (svc, _projectId, data) => checkHostIds(svc, data.hosts),
    compared: (v) => pick(v, ['name', 'hosts']),
    insert: (db, projectId, data) => db.hostGroup.create({ data: { projectId, name: data.name, hosts: { connect: connectIds(data.hosts) } } }),
    save: (db, id, data) => db.hostGroup.update({ where: { id }, data: { name: data.name, hosts: { set: connectIds(data.hosts) } } }),
    remove: (db, id) => db.hostGroup.delete({ where: { id } }),
    createdDetail: (data) => `${data.hosts.length} host(s)`,
  }),
  process: partService({
    action: 'process',
    notFoundWhat: tk('That process'),
    nameTakenMessage: tk('This project already has a process named "{{name}}".'),
    schema: processSchema,
    async find(db, projectId, id) {
      const p = await db.process.findFirst({ where: { id, projectId }, include: { groups: { select: { id: true } } } });
      return p && { id: p.id, ...pick(p, PROCESS_FIELDS), groups: ids(p.groups) };
    },
    nameTaken: async (db, projectId, name) => Boolean(await db.process.findUnique({ where: { projectId_name: { projectId, name } } })),
    checkRefs: (svc, projectId, data) => checkGroupIds(svc, projectId, data.groups),
    compared: (v) => pick(v, [...PROCESS_FIELDS, 'groups']),
    insert: (db, projectId, data) => db.process.create({ data: { projectId, ...pick(data, PROCESS_FIELDS), groups: { connect: connectIds(data.groups) } } }),
    save: (db, id, data) => db.process.update({ where: { id }, data: { ...pick(data, PROCESS_FIELDS), groups: { set: connectIds(data.groups) } } }),
    remove: (db, id) => db.process.delete({ where: { id } }),
    createdDetail: (data) => `${data.groups.length} group(s)`,
  }),
  hook: partService({
    action: 'hook',
    notFoundWhat: tk('That hook'),
    nameTakenMessage: tk('This project already has a hook named "{{name}}".'),
    schema: hookSchema,
    async find(db, projectId, id) {
      const h = await db.hook.findFirst({ where: { id, projectId } });
      return h && { id: h.id, runOn: h.runOn, ...pick(h, HOOK_FIELDS) };
    },
    nameTaken: async (db, projectId, name) => Boolean(await db.hook.findUnique({ where: { projectId_name: { projectId, name } } })),
    compared: (v) => pick(v, HOOK_FIELDS),
    insert: (db, projectId, data) => db.hook.create({ data: { projectId, ...pick(data, HOOK_FIELDS), runOn: runOnForStage(data.stage) } }),
    save: (db, id, data) => db.hook.update({ where: { id }, data: { ...pick(data, HOOK_FIELDS), runOn: runOnForStage(data.stage) } }),
    remove: (db, id) => db.hook.delete({ where: { id } }),
    createdDetail: (data) => `stage ${data.stage}, runs on ${runOnForStage(data.stage)}`,
  }),
} satisfies Record<PartKind, unknown>;
