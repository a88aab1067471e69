// Hosts: where releases go, how to log in (a credential), which jump host leads there and which host key
// is pinned. Also builds the decrypted HostTarget the transport needs, and the "Test connection" check.
import { DEFAULTS } from '../../config.ts';
import { z } from 'zod';
import { FerryError, notFound, translateError } from '../../lib/errors.ts';
import { fill, tk, type MessageParams } from '../../lib/messages.ts';
import { fingerprintOf, normalizeHostKey } from '../../deploy/hostkey.ts';
import { createSshTransport, TransportError } from '../../deploy/transport/index.ts';
import type { HostTarget, RemoteSession, Transport } from '../../deploy/types.ts';
import type { Ctx, Services } from '../context.ts';
import { assertAdmin } from '../permissions.ts';
import { recordOp } from '../oplog.ts';
import { pinHostKey, resolveHostTargets } from '../targets.ts';
import { changeDetail, changedFields, formText, intField, invalid, nameField, optionalFormText, optionalId, parseForm, pick, requiredId } from './form.ts';
import { addressRule, deployDirRule, hostKeyRule, RANGES } from './rules.ts';

export const RELAY_MODES = ['auto', 'tunnel', 'store-forward'] as const;
export type RelayMode = (typeof RELAY_MODES)[number];

const hostSchema = z.object({
  name: nameField,
  address: formText(addressRule),
  port: intField(RANGES.port.min, RANGES.port.max),
  credentialId: requiredId(tk('choose a credential')),
  jumpHostId: optionalId,
  hostKey: formText(hostKeyRule),
  relayMode: z.enum(RELAY_MODES, { error: tk('must be one of auto, tunnel, store-forward') }),
  // Empty: the project's deploy directory is used on this host.
  deployDir: optionalFormText(deployDirRule).transform((d) => d ?? null),
});

const HOST_FIELDS = ['name', 'address', 'port', 'credentialId', 'jumpHostId', 'hostKey', 'relayMode', 'deployDir'] as const;

export const newHostValues = () => ({ name: '', address: '', port: DEFAULTS.sshPort, credentialId: '', jumpHostId: '', hostKey: '', relayMode: 'auto', deployDir: '' });

/** Fingerprint of a stored key for display; never throws. */
export function safeFingerprint(key: string | null | undefined): string {
  if (!key) return '';
  try {
    return fingerprintOf(key);
  } catch {
    return tk('unreadable key');
  }
}

export async function listHosts(svc: Pick<Services, 'db'>) {
  const rows = await svc.db.host.findMany({
    orderBy: { name: 'asc' },
    include: {
      credential: { select: { id: true, name: true } },
      jumpHost: { select: { id: true, name: true } },
      groups: { select: { name: true, project: { select: { id: true, name: true } } }, orderBy: { name: 'asc' } },
    },
  });
  return rows.map((h) => ({
    id: h.id, name: h.name, address: h.address, port: h.port, relayMode: h.relayMode,
    credential: h.credential, jumpHost: h.jumpHost, fingerprint: safeFingerprint(h.hostKey),
    groups: h.groups.map((g) => ({ name: g.name, projectId: g.project.id, project: g.project.name })),
  }));
}

/** The host page: its settings, groups, hosts that jump through it, and the choices for the selects. */
export async function hostDetail(svc: Pick<Services, 'db'>, id: number) {
  const h = await svc.db.host.findUnique({
    where: { id },
    include: {
      groups: { select: { name: true, project: { select: { id: true, name: true } } } },
      jumpedHosts: { select: { id: true, name: true } },
    },
  });
  if (!h) throw notFound('That host');
  return {
    host: {
      ...pick(h, ['id', 'name', 'address', 'port', 'credentialId', 'jumpHostId', 'relayMode']), deployDir: h.deployDir ?? '',
      pinnedKey: h.hostKey ?? '', fingerprint: safeFingerprint(h.hostKey),
    },
    groups: h.groups.map((g) => ({ name: g.name, projectId: g.project.id, project: g.project.name })),
    jumpedHosts: h.jumpedHosts,
    ...(await hostChoices(svc, id)),
  };
}

/** Credentials and possible jump hosts (never the host itself) for the form's selects. */
export async function hostChoices(svc: Pick<Services, 'db'>, exceptHostId?: number) {
  const [credentials, hosts] = await Promise.all([
    svc.db.credential.findMany({ select: { id: true, name: true, username: true }, orderBy: { name: 'asc' } }),
    svc.db.host.findMany({ where: exceptHostId ? { id: { not: exceptHostId } } : {}, select: { id: true, name: true, address: true }, orderBy: { name: 'asc' } }),
  ]);
  return { credentials, jumpHosts: hosts };
}

async function loadHost(svc: Pick<Services, 'db'>, id: number) {
  const host = await svc.db.host.findUnique({ where: { id } });
  if (!host) throw notFound('That host');
  return host;
}

/** Validates the form and the references it makes (credential, jump host, no jump cycle, a readable key). */
async function checkedInput(svc: Pick<Services, 'db'>, input: unknown, selfId?: number) {
  const data = parseForm(hostSchema, input);
  const other = await svc.db.host.findUnique({ where: { name: data.name }, select: { id: true } });
  if (other && other.id !== selfId) throw new FerryError('conflict', tk('A host named "{{name}}" already exists.'), { params: { name: data.name }, fields: { name: tk('already exists') } });
  if (!(await svc.db.credential.findUnique({ where: { id: data.credentialId }, select: { id: true } }))) {
    throw invalid({ credentialId: tk('that credential no longer exists; reload the page') });
  }
  let hostKey: string | null = null;
  if (data.hostKey) {
    try {
      hostKey = normalizeHostKey(data.hostKey);
    } catch (err) {
      throw invalid({ hostKey: (err as Error).message });
    }
  }
  if (data.jumpHostId !== null) await checkJumpChain(svc, data.jumpHostId, selfId);
  return { ...data, hostKey };
}

/** Refuses a jump host that is missing, the host itself, or leads back to it. */
async function checkJumpChain(svc: Pick<Services, 'db'>, jumpHostId: number, selfId?: number) {
  if (jumpHostId === selfId) throw invalid({ jumpHostId: tk('a host cannot be its own jump host') });
  const seen = new Set<number>();
  let current: number | null = jumpHostId;
  const names: string[] = [];
  while (current !== null) {
    // Static messages (translated where shown); the page lists the hosts reached through this one.
    if (current === selfId) throw invalid({ jumpHostId: tk('that would make a loop back to this host') });
    if (seen.has(current)) throw invalid({ jumpHostId: tk('the jump hosts of that host already form a loop') });
    seen.add(current);
    const row: { name: string; jumpHostId: number | null } | null = await svc.db.host.findUnique({ where: { id: current }, select: { name: true, jumpHostId: true } });
    if (!row) throw invalid({ jumpHostId: tk('that host no longer exists; reload the page') });
    names.push(row.name);
    current = row.jumpHostId;
  }
}

export async function createHost(svc: Services, ctx: Ctx, input: unknown): Promise<{ id: number; name: string }> {
  await assertAdmin(svc, ctx, 'host.create', String((input as { name?: unknown } | undefined)?.name ?? ''));
  const data = await checkedInput(svc, input);
  const host = await svc.db.host.create({ data: pick(data, HOST_FIELDS) });
  const detail = [`${data.address}:${data.port}`, data.hostKey ? `pinned key ${fingerprintOf(data.hostKey)}` : ''].filter(Boolean).join('; ');
  await recordOp(svc, ctx, { action: 'host.create', result: 'ok', target: host.name, detail });
  return { id: host.id, name: host.name };
}

export async function updateHost(svc: Services, ctx: Ctx, id: number, input: unknown): Promise<{ id: number; name: string; changed: string[] }> {
  const before = await loadHost(svc, id);
  await assertAdmin(svc, ctx, 'host.update', before.name);
  const data = await checkedInput(svc, input, id);
  // An empty key field keeps the pinned key (a test may have pinned one since the form was loaded); "Clear pinned key" removes it.
  const after = { ...pick(data, HOST_FIELDS), hostKey: data.hostKey ?? before.hostKey };
  const changed = changedFields(pick(before, HOST_FIELDS), after);
  if (changed.length) await svc.db.host.update({ where: { id }, data: after });
  // What Ferry recorded putting on this host describes the old directory: forgotten, so it is never taken for hand edits.
  if (changed.includes('deployDir')) await svc.db.hostFile.deleteMany({ where: { hostId: id } });
  const renamed = data.name !== before.name ? ` (renamed from ${before.name})` : '';
  await recordOp(svc, ctx, { action: 'host.update', result: 'ok', target: data.name, detail: changeDetail(changed) + renamed });
  return { id, name: data.name, changed };
}

export async function deleteHost(svc: Services, ctx: Ctx, id: number): Promise<{ name: string }> {
  const host = await loadHost(svc, id);
  await assertAdmin(svc, ctx, 'host.delete', host.name);
  const jumped = await svc.db.host.findMany({ where: { jumpHostId: id }, select: { name: true } });
  if (jumped.length) {
    throw new FerryError('conflict', tk('Host "{{name}}" is the jump host of {{hosts}}; change those hosts first.'), { params: { name: host.name, hosts: jumped.map((h) => h.name).join(', ') } });
  }
  await svc.db.host.delete({ where: { id } });
  await recordOp(svc, ctx, { action: 'host.delete', result: 'ok', target: host.name });
  return { name: host.name };
}

/** Forgets the pinned key: the next successful connection pins whatever the server presents. */
export async function clearHostKey(svc: Services, ctx: Ctx, id: number): Promise<{ name: string; hadKey: boolean }> {
  const host = await loadHost(svc, id);
  await assertAdmin(svc, ctx, 'host.clear-key', host.name);
  if (host.hostKey) await svc.db.host.update({ where: { id }, data: { hostKey: null } });
  await recordOp(svc, ctx, { action: 'host.clear-key', result: 'ok', target: host.name, detail: host.hostKey ? `was ${safeFingerprint(host.hostKey)}` : 'no key was pinned' });
  return { name: host.name, hadKey: Boolean(host.hostKey) };
}

/**
 * Everything needed to reach a host, jump hosts resolved recursively with decrypted credentials (the same
 * builder the release engine uses). A jump loop is a plain 400, a missing host a 404. Never log the result.
 */
async function hostTarget(svc: Pick<Services, 'db' | 'secretKey'>, hostId: number): Promise<HostTarget> {
  const target = (await resolveHostTargets(svc, [hostId])).get(hostId);
  if (!target) throw notFound('That host');
  return target;
}

/** Pins a key presented on first contact (unless someone pinned one meanwhile) and logs it. */
async function pinAndLog(svc: Pick<Services, 'db'>, ctx: Ctx, hostName: string, hostKey: string, fingerprint: string): Promise<boolean> {
  const pinned = await pinHostKey(svc, hostName, hostKey);
  if (pinned) await recordOp(svc, ctx, { action: 'host.pin-key', result: 'ok', target: hostName, detail: fingerprint });
  return pinned;
}

/** A test result's message as a key and values; `cause` is the error filled in (translated) as {{reason}}. */
export interface HostTestText {
  key: string;
  params: MessageParams;
  keyParams?: readonly string[];
  cause?: FerryError;
}

/** A "Test connection" message in the language of `t`. */
export function hostTestMessage(text: HostTestText, t: (key: string, params?: Record<string, unknown>) => string): string {
  const params: Record<string, unknown> = { ...text.params };
  for (const name of text.keyParams ?? []) if (typeof params[name] === 'string') params[name] = t(params[name]);
  if (text.cause) params.reason = translateError(text.cause, t);
  return t(text.key, params);
}

function testText(key: string, params: MessageParams, opts: { keyParams?: readonly string[]; cause?: FerryError } = {}): { message: string; text: HostTestText } {
  const english = opts.cause ? { ...params, reason: opts.cause.message } : params;
  return { message: fill(key, english), text: { key, params, ...opts } };
}

interface HostTestResult {
  ok: boolean;
  /** In English (the operation log); `text` for the user's language. */
  message: string;
  text: HostTestText;
  /** SHA256 fingerprint of the host's key, when known. */
  fingerprint?: string;
  /** Hosts (the target and/or jump hosts) whose key was pinned by this test. */
  pinned: string[];
}

/** Logs in (through the jump hosts), runs `uname -n`, pins unknown keys; a changed key is a failure in plain words. */
export async function testHost(svc: Services, ctx: Ctx, id: number, transport: Transport = createSshTransport()): Promise<HostTestResult> {
  const host = await loadHost(svc, id);
  await assertAdmin(svc, ctx, 'host.test', host.name);
  const pinned: string[] = [];
  let fingerprint = host.hostKey ? safeFingerprint(host.hostKey) : undefined;
  let result: HostTestResult;
  let session: RemoteSession | undefined;
  try {
    const target = await hostTarget(svc, id);
    session = await transport.connect(target, {
      connectTimeoutMs: DEFAULTS.sshConnectTimeoutMs,
      onNewHostKey: async (hostName, key, fp) => {
        if (await pinAndLog(svc, ctx, hostName, key, fp)) pinned.push(hostName);
        if (hostName === host.name) fingerprint = fp;
      },
    });
    const run = await session.exec('uname -n', { timeoutMs: 15_000 });
    if (run.code !== 0) {
      result = { ok: false, fingerprint, pinned, ...testText(tk('Logged in to {{name}}, but "uname -n" exited with code {{code}}: {{stderr}}'), { name: host.name, code: String(run.code), stderr: run.stderr.trim().slice(0, 300) }) };
    } else {
      const node = run.stdout.trim();
      const params = { name: host.name, node: node || tk('no name'), hosts: pinned.join(', ') };
      const key = pinned.length ? tk('Connected to {{name}} ({{node}}). Pinned the host key of {{hosts}}.') : tk('Connected to {{name}} ({{node}}).');
      result = { ok: true, fingerprint, pinned, ...testText(key, params, { keyParams: node ? [] : ['node'] }) };
    }
  } catch (err) {
    if (!(err instanceof FerryError)) throw err;
    const text = err instanceof TransportError && err.code === 'host-key-changed'
      ? testText(tk('Refused to log in: {{reason}}. If nobody reinstalled {{host}}, someone may be intercepting the connection.'), { host: err.host }, { cause: err })
      : testText(tk('Connection failed: {{reason}}'), {}, { cause: err });
    result = { ok: false, fingerprint, pinned, ...text };
  } finally {
    await session?.close().catch(() => undefined);
  }
  await recordOp(svc, ctx, { action: 'host.test', result: result.ok ? 'ok' : 'failed', target: host.name, detail: result.message });
  return result;
}
