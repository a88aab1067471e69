// Projects as configured by administrators: read models for the pages (secrets only as labels),
// create/update/delete with the operation log, and the "Test SVN" check.
import { DEFAULTS } from '../../config.ts';
import { z } from 'zod';
import { decryptSecret, encryptSecret, secretLabel } from '../../lib/crypto.ts';
import { FerryError, notFound } from '../../lib/errors.ts';
import { runFile as defaultRunFile, type RunFile } from '../../lib/exec.ts';
import { SvnClient, SvnError } from '../../deploy/svn/index.ts';
import type { Ctx, Services } from '../context.ts';
import { assertAdmin } from '../permissions.ts';
import { recordOp } from '../oplog.ts';
import { ACTIVE_JOB_STATUSES } from '../jobs/status.ts';
import { changeDetail, changedFields, checkbox, formText, intField, invalid, nameField, parseForm, pick, secretField } from './form.ts';
import { fill, tk, type MessageParams } from '../../lib/messages.ts';
import { deployDirRule, descriptionRule, RANGES, svnUrlRule, svnUsernameRule } from './rules.ts';

export const PROJECT_SECRET_INPUTS = ['svnPassword'] as const;

const projectSchema = z.object({
  name: nameField,
  description: formText(descriptionRule),
  svnUrl: formText(svnUrlRule),
  svnUsername: formText(svnUsernameRule),
  svnPassword: secretField,
  clearSvnPassword: checkbox,
  deployDir: formText(deployDirRule),
  keepSnapshots: intField(RANGES.keepSnapshots.min, RANGES.keepSnapshots.max),
  concurrency: intField(RANGES.concurrency.min, RANGES.concurrency.max),
  requireApproval: checkbox,
  rollbackNeedsApproval: checkbox,
  // Left out entirely (an older client): a new project gets the default, an edit keeps what is stored.
  approvalHours: intField(RANGES.approvalHours.min, RANGES.approvalHours.max).optional(),
});
type ProjectInput = z.input<typeof projectSchema>;

/** The editable, non-secret fields, as they are stored. */
const PLAIN_FIELDS = ['name', 'description', 'svnUrl', 'svnUsername', 'deployDir', 'keepSnapshots', 'concurrency', 'requireApproval', 'rollbackNeedsApproval'] as const;

/** Values for a new project form. */
export const newProjectValues = () => ({ name: '', description: '', svnUrl: '', svnUsername: '', deployDir: '', keepSnapshots: DEFAULTS.keepSnapshots, concurrency: DEFAULTS.concurrency,
  requireApproval: false, rollbackNeedsApproval: false, approvalHours: DEFAULTS.approvalHours,
});

export async function listProjects(svc: Pick<Services, 'db'>) {
  const rows = await svc.db.project.findMany({
    orderBy: { name: 'asc' },
    include: {
      groups: { select: { hosts: { select: { id: true } } } },
      _count: { select: { groups: true, processes: true, hooks: true } },
    },
  });
  return rows.map((p) => ({
    id: p.id, name: p.name, description: p.description, svnUrl: p.svnUrl, deployDir: p.deployDir,
    svnPasswordLabel: secretLabel(p.svnPasswordEnc),
    groupCount: p._count.groups, processCount: p._count.processes, hookCount: p._count.hooks,
    hostCount: new Set(p.groups.flatMap((g) => g.hosts.map((h) => h.id))).size,
  }));
}

async function loadProject(svc: Pick<Services, 'db'>, id: number) {
  const project = await svc.db.project.findUnique({ where: { id } });
  if (!project) throw notFound('That project');
  return project;
}

/** Everything the project page shows: settings (secret as a label), groups, processes, hooks, and choices for the selects. */
export async function projectDetail(svc: Pick<Services, 'db'>, id: number) {
  const p = await svc.db.project.findUnique({
    where: { id },
    include: {
      groups: { include: { hosts: { select: { id: true, name: true }, orderBy: { name: 'asc' } } }, orderBy: { name: 'asc' } },
      processes: { include: { groups: { select: { id: true, name: true }, orderBy: { name: 'asc' } } }, orderBy: { name: 'asc' } },
      hooks: { orderBy: [{ stage: 'asc' }, { position: 'asc' }, { name: 'asc' }] },
    },
  });
  if (!p) throw notFound('That project');
  const hosts = await svc.db.host.findMany({ select: { id: true, name: true, address: true }, orderBy: { name: 'asc' } });
  return {
    project: {
      id: p.id, name: p.name, description: p.description, svnUrl: p.svnUrl, svnUsername: p.svnUsername,
      deployDir: p.deployDir, keepSnapshots: p.keepSnapshots, concurrency: p.concurrency,
      requireApproval: p.requireApproval, rollbackNeedsApproval: p.rollbackNeedsApproval, approvalHours: p.approvalHours,
      svnPasswordLabel: secretLabel(p.svnPasswordEnc), createdAt: p.createdAt, updatedAt: p.updatedAt,
    },
    groups: p.groups.map((g) => ({ id: g.id, name: g.name, hosts: g.hosts })),
    processes: p.processes.map((pr) => ({ id: pr.id, name: pr.name, startCmd: pr.startCmd, stopCmd: pr.stopCmd, statusCmd: pr.statusCmd, groups: pr.groups })),
    hooks: p.hooks.map((h) => ({ id: h.id, name: h.name, stage: h.stage, runOn: h.runOn, script: h.script, timeoutSec: h.timeoutSec, position: h.position })),
    hosts,
  };
}

async function assertNameFree(svc: Pick<Services, 'db'>, name: string, exceptId?: number) {
  const other = await svc.db.project.findUnique({ where: { name }, select: { id: true } });
  if (other && other.id !== exceptId) throw new FerryError('conflict', tk('A project named "{{name}}" already exists.'), { params: { name }, fields: { name: tk('already exists') } });
}

export async function createProject(svc: Services, ctx: Ctx, input: unknown): Promise<{ id: number; name: string }> {
  await assertAdmin(svc, ctx, 'project.create', String((input as ProjectInput | undefined)?.name ?? ''));
  const data = parseForm(projectSchema, input);
  await assertNameFree(svc, data.name);
  const project = await svc.db.project.create({
    data: {
      ...pick(data, PLAIN_FIELDS), approvalHours: data.approvalHours ?? DEFAULTS.approvalHours,
      svnPasswordEnc: data.svnPassword ? encryptSecret(svc.secretKey, data.svnPassword) : null,
    },
  });
  await recordOp(svc, ctx, { action: 'project.create', result: 'ok', project: project.name, target: project.name, detail: data.svnPassword ? 'created; svnPassword set' : 'created' });
  return { id: project.id, name: project.name };
}

export async function updateProject(svc: Services, ctx: Ctx, id: number, input: unknown): Promise<{ id: number; name: string; changed: string[] }> {
  const before = await loadProject(svc, id);
  await assertAdmin(svc, ctx, 'project.update', before.name);
  const data = parseForm(projectSchema, input);
  if (data.svnPassword && data.clearSvnPassword) throw invalid({ svnPassword: tk('type a new password or tick "clear", not both') });
  if (data.name !== before.name) await assertNameFree(svc, data.name, id);

  const after = { ...pick(data, PLAIN_FIELDS), approvalHours: data.approvalHours ?? before.approvalHours };
  const changed = changedFields({ ...pick(before, PLAIN_FIELDS), approvalHours: before.approvalHours }, after);
  let svnPasswordEnc: string | null | undefined;
  if (data.clearSvnPassword && before.svnPasswordEnc) svnPasswordEnc = null;
  else if (data.svnPassword && !sameSecret(svc, before.svnPasswordEnc, data.svnPassword)) svnPasswordEnc = encryptSecret(svc.secretKey, data.svnPassword);
  if (svnPasswordEnc !== undefined) changed.push('svnPassword');

  if (changed.length) await svc.db.project.update({ where: { id }, data: { ...after, ...(svnPasswordEnc !== undefined ? { svnPasswordEnc } : {}) } });
  // Ferry's record of the project's files on its hosts describes the old directory (hosts with a directory of their own keep theirs).
  if (changed.includes('deployDir')) await svc.db.hostFile.deleteMany({ where: { projectId: id, host: { OR: [{ deployDir: null }, { deployDir: '' }] } } });
  const renamed = data.name !== before.name ? ` (renamed from ${before.name})` : '';
  await recordOp(svc, ctx, { action: 'project.update', result: 'ok', project: data.name, target: data.name, detail: changeDetail(changed) + renamed });
  return { id, name: data.name, changed };
}

export async function deleteProject(svc: Services, ctx: Ctx, id: number): Promise<{ name: string }> {
  const project = await loadProject(svc, id);
  await assertAdmin(svc, ctx, 'project.delete', project.name);
  const active = await svc.db.job.count({ where: { projectId: id, status: { in: [...ACTIVE_JOB_STATUSES] } } });
  if (active) throw new FerryError('conflict', tk('Project "{{name}}" has {{count}} job(s) queued or running; wait for them to finish before deleting it.'), { params: { name: project.name, count: active } });
  await svc.db.project.delete({ where: { id } });
  await recordOp(svc, ctx, { action: 'project.delete', result: 'ok', project: project.name, target: project.name });
  return { name: project.name };
}

interface SvnTestResult {
  ok: boolean;
  /** In English (the operation log keeps it); `template` and `params` show it in the user's language. */
  message: string;
  revision?: number;
  template: string;
  params?: MessageParams;
  /** The SVN failure, to show its message in the user's language. */
  error?: FerryError;
}

/** Reads the saved SVN settings and asks the repository for its head revision; the outcome is logged either way. */
export async function testProjectSvn(svc: Services, ctx: Ctx, id: number, run: RunFile = defaultRunFile): Promise<SvnTestResult> {
  const project = await loadProject(svc, id);
  await assertAdmin(svc, ctx, 'project.test-svn', project.name);
  let result: SvnTestResult;
  try {
    const password = project.svnPasswordEnc ? decryptSecret(svc.secretKey, project.svnPasswordEnc) : null;
    const client = new SvnClient({ url: project.svnUrl, username: project.svnUsername, password }, run, { timeoutMs: 30_000 });
    const info = await client.info();
    const template = info.lastChangedAuthor
      ? tk('Connected to {{url}}: head revision {{revision}} (last change r{{lastRevision}} by {{author}}).')
      : tk('Connected to {{url}}: head revision {{revision}}.');
    const params = { url: project.svnUrl, revision: info.revision, lastRevision: info.lastChangedRev, author: info.lastChangedAuthor ?? '' };
    result = { ok: true, revision: info.revision, message: fill(template, params), template, params };
  } catch (err) {
    if (!(err instanceof SvnError)) throw err;
    svc.logger.info({ project: project.name, reason: err.reason, detail: err.detail }, 'svn test failed');
    result = { ok: false, message: err.message, template: err.template, params: err.params, error: err };
  }
  await recordOp(svc, ctx, { action: 'project.test-svn', result: result.ok ? 'ok' : 'failed', project: project.name, target: project.svnUrl, detail: result.message });
  return result;
}

function sameSecret(svc: Pick<Services, 'secretKey'>, stored: string | null, plain: string): boolean {
  if (!stored) return false;
  try {
    return decryptSecret(svc.secretKey, stored) === plain;
  } catch {
    return false;
  }
}

