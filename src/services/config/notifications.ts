// A project's notification channels as administrators configure them: the one validation the form and the import
// share, list/create/update/delete with the operation log, and "Send test". The URL (robot URLs carry their access
// token) and the signing secret are stored encrypted and never shown back; a blank field on edit keeps them.
import { z } from 'zod';
import { NOTIFY_DELIVERY } from '../../config.ts';
import { encryptSecret, decryptSecret, secretLabel } from '../../lib/crypto.ts';
import { FerryError, notFound } from '../../lib/errors.ts';
import type { Ctx, Services } from '../context.ts';
import { NOTIFY_EVENTS, type NotifyEventName } from '../notify/events.ts';
import { CHANNEL_KINDS, type ChannelKind } from '../notify/message.ts';
import type { SendSettings } from '../notify/send.ts';
import { channelTargetLabel, sendAndRecord } from '../notify/worker.ts';
import { recordOp } from '../oplog.ts';
import { assertAdmin } from '../permissions.ts';
import { changeDetail, changedFields, checkbox, invalid, parseForm } from './form.ts';
import { fill, tk, type MessageParams } from '../../lib/messages.ts';
import { MAX_CHANNELS, ONE_OF, nameRule, notifySecretRule, notifyToRule, notifyUrlHint, notifyUrlRule } from './rules.ts';

export const CHANNEL_KIND_LABELS: Record<ChannelKind, string> = {
  dingtalk: tk('DingTalk robot'), wecom: tk('WeCom robot'), feishu: tk('Feishu robot'), slack: tk('Slack webhook'), webhook: tk('JSON webhook'), email: tk('E-mail'),
};
/** The events in the forms and lists (message keys: pages show them with t()); the import and the webhook use the names. */
export const NOTIFY_EVENT_LABELS: Record<NotifyEventName, string> = {
  'approval.requested': tk('Request waits for approval'), 'approval.approved': tk('Request approved'), 'approval.rejected': tk('Request rejected'),
  'publish.started': tk('Publish started'), 'publish.succeeded': tk('Publish succeeded'), 'publish.failed': tk('Publish failed'),
  'publish.partial': tk('Publish failed on some hosts'), rollback: tk('Rollback finished'), 'process.failed': tk('Process action failed'),
};
export const CHANNEL_SECRET_INPUTS = ['url', 'secret'] as const;

/** The fields of a channel, as the import file and (after form clean-up) the form give them. */
export const channelFields = {
  name: nameRule,
  kind: z.enum(CHANNEL_KINDS, { error: fill(ONE_OF, { choices: CHANNEL_KINDS.join(', ') }) }),
  url: notifyUrlRule.optional(),
  secret: notifySecretRule.optional(),
  to: notifyToRule.optional(),
  events: z.array(z.enum(NOTIFY_EVENTS, { error: fill(ONE_OF, { choices: NOTIFY_EVENTS.join(', ') }) })).optional(),
};

type ChannelShape = { kind: ChannelKind; url?: string; to?: string };

/** What a channel of its kind must have: an address for everything but e-mail, recipients for e-mail. */
export function channelShapeProblems(c: ChannelShape, hasStoredUrl = false): Record<string, string> {
  if (c.kind === 'email') return c.to ? {} : { to: tk('required for an e-mail channel') };
  return c.url || hasStoredUrl ? {} : { url: tk('required for this kind of channel') };
}

/** The import's `notifications:` entry (the same fields and rules as the form). */
export const importChannelSchema = z.strictObject(channelFields).superRefine((c, ctx) => {
  for (const [path, message] of Object.entries(channelShapeProblems(c))) ctx.addIssue({ code: 'custom', path: [path], message });
});

/** HTML forms send strings: a blank URL or secret means "keep", one ticked event arrives as a string. */
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const formSchema = z.object({
  ...channelFields,
  url: z.preprocess(blankToUndefined, channelFields.url),
  secret: z.preprocess((v) => (v === '' ? undefined : v), channelFields.secret),
  to: z.preprocess((v) => v ?? '', notifyToRule),
  events: z.preprocess((v) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]), z.array(channelFields.events.unwrap().element)),
  /** Unticked (or left out) means the channel sends. */
  paused: checkbox,
  clearSecret: checkbox,
});

/** Stored event list: "" for every event, else a JSON array. */
export const eventsToStored = (events: readonly string[] | undefined) => (events?.length ? JSON.stringify([...new Set(events)]) : '');
export function eventsFromStored(stored: string): NotifyEventName[] {
  if (!stored) return [];
  try {
    const list = JSON.parse(stored) as unknown;
    return Array.isArray(list) ? list.filter((e): e is NotifyEventName => (NOTIFY_EVENTS as readonly string[]).includes(e)) : [];
  } catch {
    return [];
  }
}

type ChannelRow = NonNullable<Awaited<ReturnType<typeof findChannel>>>;

function findChannel(svc: Pick<Services, 'db'>, projectId: number, id: number) {
  return svc.db.notificationChannel.findFirst({ where: { id, projectId }, include: { project: { select: { name: true } } } });
}

async function loadChannel(svc: Pick<Services, 'db'>, projectId: number, id: number): Promise<ChannelRow> {
  const channel = await findChannel(svc, projectId, id);
  if (!channel) throw notFound('That notification channel');
  return channel;
}

/** A channel as the pages show it: no URL beyond its hint, the secret only as a label. */
function channelView(c: Omit<ChannelRow, 'project'>) {
  return {
    id: c.id, name: c.name, kind: c.kind as ChannelKind, kindLabel: CHANNEL_KIND_LABELS[c.kind as ChannelKind] ?? c.kind,
    urlHint: c.urlHint, to: c.to, events: eventsFromStored(c.events), enabled: c.enabled, paused: !c.enabled, secretLabel: secretLabel(c.secretEnc),
    hasSecret: Boolean(c.secretEnc), lastStatus: c.lastStatus, lastError: c.lastError, lastAt: c.lastAt,
  };
}
export type ChannelView = ReturnType<typeof channelView>;

export async function listChannels(svc: Pick<Services, 'db'>, projectId: number): Promise<ChannelView[]> {
  const rows = await svc.db.notificationChannel.findMany({ where: { projectId }, orderBy: { name: 'asc' } });
  return rows.map(channelView);
}

export async function getChannel(svc: Pick<Services, 'db'>, projectId: number, id: number): Promise<ChannelView> {
  return channelView(await loadChannel(svc, projectId, id));
}

export const newChannelValues = () => ({ name: '', kind: 'dingtalk', to: '', events: [] as string[], paused: false });

async function projectOf(svc: Pick<Services, 'db'>, projectId: number) {
  const project = await svc.db.project.findUnique({ where: { id: projectId }, select: { id: true, name: true } });
  if (!project) throw notFound('That project');
  return project;
}

async function assertNameFree(svc: Pick<Services, 'db'>, projectId: number, name: string) {
  if (await svc.db.notificationChannel.findUnique({ where: { projectId_name: { projectId, name } } })) {
    throw new FerryError('conflict', tk('This project already has a notification channel named "{{name}}".'), { params: { name }, fields: { name: tk('already exists in this project') } });
  }
}

function checkShape(data: ChannelShape, hasStoredUrl: boolean) {
  const problems = channelShapeProblems(data, hasStoredUrl);
  if (Object.keys(problems).length) throw invalid(problems);
}

export async function createChannel(svc: Services, ctx: Ctx, projectId: number, input: unknown): Promise<{ id: number; name: string }> {
  const project = await projectOf(svc, projectId);
  await assertAdmin(svc, ctx, 'notify.create', project.name);
  const data = parseForm(formSchema, input);
  checkShape(data, false);
  await assertNameFree(svc, projectId, data.name);
  const count = await svc.db.notificationChannel.count({ where: { projectId } });
  if (count >= NOTIFY_DELIVERY.maxChannelsPerProject) throw invalid({ name: fill(MAX_CHANNELS, { n: NOTIFY_DELIVERY.maxChannelsPerProject }) });
  const url = data.kind === 'email' ? null : data.url!;
  const row = await svc.db.notificationChannel.create({
    data: {
      projectId, name: data.name, kind: data.kind, urlEnc: url ? encryptSecret(svc.secretKey, url) : null, urlHint: url ? notifyUrlHint(url) : '',
      secretEnc: data.secret ? encryptSecret(svc.secretKey, data.secret) : null, to: data.kind === 'email' ? data.to : '',
      events: eventsToStored(data.events), enabled: !data.paused,
    },
  });
  await recordOp(svc, ctx, {
    action: 'notify.create', result: 'ok', project: project.name, target: channelTargetLabel(row),
    detail: `${data.kind}; events: ${data.events.length ? data.events.join(', ') : 'all'}${data.secret ? '; secret set' : ''}`,
  });
  return { id: row.id, name: row.name };
}

export async function updateChannel(svc: Services, ctx: Ctx, projectId: number, id: number, input: unknown): Promise<{ id: number; name: string; changed: string[] }> {
  const before = await loadChannel(svc, projectId, id);
  await assertAdmin(svc, ctx, 'notify.update', before.project.name);
  const data = parseForm(formSchema, input);
  if (data.secret && data.clearSecret) throw invalid({ secret: tk('type a new secret or tick "clear", not both') });
  const email = data.kind === 'email';
  checkShape(data, Boolean(before.urlEnc));
  if (data.name !== before.name) await assertNameFree(svc, projectId, data.name);

  const plain = { name: data.name, kind: data.kind, to: email ? data.to : '', events: eventsToStored(data.events), enabled: !data.paused };
  const changed = changedFields({ name: before.name, kind: before.kind, to: before.to, events: before.events, enabled: before.enabled }, plain);
  const secrets: { urlEnc?: string | null; urlHint?: string; secretEnc?: string | null } = {};
  if (email && before.urlEnc) Object.assign(secrets, { urlEnc: null, urlHint: '' });
  else if (!email && data.url && !same(svc, before.urlEnc, data.url)) Object.assign(secrets, { urlEnc: encryptSecret(svc.secretKey, data.url), urlHint: notifyUrlHint(data.url) });
  if (secrets.urlEnc !== undefined) changed.push('url');
  if (data.clearSecret && before.secretEnc) secrets.secretEnc = null;
  else if (data.secret && !same(svc, before.secretEnc, data.secret)) secrets.secretEnc = encryptSecret(svc.secretKey, data.secret);
  if (secrets.secretEnc !== undefined) changed.push('secret');

  // A changed address or secret starts afresh: the last outcome was about the old one.
  const fresh = secrets.urlEnc !== undefined || secrets.secretEnc !== undefined ? { lastStatus: '', lastError: '', lastAt: null } : {};
  if (changed.length) await svc.db.notificationChannel.update({ where: { id }, data: { ...plain, ...secrets, ...fresh } });
  const renamed = data.name !== before.name ? ` (renamed from ${before.name})` : '';
  await recordOp(svc, ctx, {
    action: 'notify.update', result: 'ok', project: before.project.name,
    target: channelTargetLabel({ name: data.name, urlHint: secrets.urlHint ?? before.urlHint, to: plain.to }), detail: changeDetail(changed) + renamed,
  });
  return { id, name: data.name, changed };
}

export async function deleteChannel(svc: Services, ctx: Ctx, projectId: number, id: number): Promise<{ name: string }> {
  const channel = await loadChannel(svc, projectId, id);
  await assertAdmin(svc, ctx, 'notify.delete', channel.project.name);
  await svc.db.notificationChannel.delete({ where: { id } });
  await recordOp(svc, ctx, { action: 'notify.delete', result: 'ok', project: channel.project.name, target: channelTargetLabel(channel) });
  return { name: channel.name };
}

/**
 * "Send test": sends a test message now (not queued, not retried) and says how it went: `message` in English,
 * `template` and `params` to show it in the user's language.
 */
export async function testChannel(svc: Services, ctx: Ctx, projectId: number, id: number, settings: SendSettings): Promise<{ ok: boolean; message: string; template: string; params: MessageParams }> {
  const channel = await loadChannel(svc, projectId, id);
  await assertAdmin(svc, ctx, 'notify.test', channel.project.name);
  const problem = await sendAndRecord(svc, settings, channel, { event: 'test', project: channel.project.name, channel: channel.name, user: ctx.actor.name });
  await recordOp(svc, ctx, { action: 'notify.test', result: problem ? 'failed' : 'ok', project: channel.project.name, target: channelTargetLabel(channel), detail: problem ?? 'test message sent' });
  const [ok, template, params] = problem
    ? [false, tk('The test message to "{{name}}" failed: {{problem}}'), { name: channel.name, problem }]
    : [true, tk('Test message sent to "{{name}}" ({{target}}).'), { name: channel.name, target: channel.urlHint || channel.to }];
  return { ok, message: fill(template, params), template, params };
}

function same(svc: Pick<Services, 'secretKey'>, stored: string | null, plain: string): boolean {
  if (!stored) return false;
  try {
    return decryptSecret(svc.secretKey, stored) === plain;
  } catch {
    return false;
  }
}
