// SSH login material shared by hosts: a private key (with an optional passphrase) and/or a password.
// Secrets are stored encrypted and only ever shown as labels; the key's public fingerprint is safe to show.
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { decryptSecret, encryptSecret, secretLabel } from '../../lib/crypto.ts';
import { FerryError, notFound } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Ctx, Services } from '../context.ts';
import { assertAdmin } from '../permissions.ts';
import { recordOp } from '../oplog.ts';
import { changeDetail, checkbox, formText, invalid, nameField, parseForm, secretField } from './form.ts';
import { privateKeyRule, usernameRule } from './rules.ts';

export const CREDENTIAL_SECRET_INPUTS = ['privateKey', 'passphrase', 'password'] as const;
type SecretName = (typeof CREDENTIAL_SECRET_INPUTS)[number];
const COLUMN: Record<SecretName, 'privateKeyEnc' | 'passphraseEnc' | 'passwordEnc'> = {
  privateKey: 'privateKeyEnc', passphrase: 'passphraseEnc', password: 'passwordEnc',
};

const credentialSchema = z.object({
  name: nameField,
  username: formText(usernameRule),
  // A pasted key often gains or loses surrounding blank lines; they carry no meaning.
  privateKey: z.preprocess((v) => (typeof v === 'string' && v.trim() ? `${v.trim()}\n` : undefined), privateKeyRule.optional()),
  passphrase: secretField,
  password: secretField,
  clearPrivateKey: checkbox,
  clearPassphrase: checkbox,
  clearPassword: checkbox,
});

export const newCredentialValues = () => ({ name: '', username: '' });

/** 'SHA256:...' of the key's public half, or a field error on privateKey (unreadable key, missing or wrong passphrase). */
function keyFingerprint(privateKey: string, passphrase?: string): string {
  const parsed = ssh2.utils.parseKey(privateKey, passphrase || undefined);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const why = key instanceof Error ? key.message : '';
    if (/no passphrase given/i.test(why)) throw invalid({ privateKey: tk('this key is encrypted: enter its passphrase'), passphrase: tk('required for this key') });
    if (/passphrase|decrypt|integrity|bad/i.test(why) && passphrase) throw invalid({ privateKey: tk('cannot open this key: the passphrase is wrong'), passphrase: tk('wrong passphrase') });
    throw invalid({ privateKey: tk('not a private key Ferry can read (paste an OpenSSH or PEM private key)') });
  }
  if (!key.isPrivateKey()) throw invalid({ privateKey: tk('this is a public key; paste the private key') });
  return `SHA256:${createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
}

const kindOf = (c: { privateKeyEnc: string | null; passwordEnc: string | null }) =>
  c.privateKeyEnc && c.passwordEnc ? tk('key + password') : c.privateKeyEnc ? tk('key') : c.passwordEnc ? tk('password') : tk('none');

export async function listCredentials(svc: Pick<Services, 'db'>) {
  const rows = await svc.db.credential.findMany({ orderBy: { name: 'asc' }, include: { _count: { select: { hosts: true } } } });
  return rows.map((c) => ({ id: c.id, name: c.name, username: c.username, kind: kindOf(c), fingerprint: c.fingerprint, hostCount: c._count.hosts }));
}

export async function credentialDetail(svc: Pick<Services, 'db'>, id: number) {
  const c = await svc.db.credential.findUnique({ where: { id }, include: { hosts: { select: { id: true, name: true }, orderBy: { name: 'asc' } } } });
  if (!c) throw notFound('That credential');
  return {
    credential: {
      id: c.id, name: c.name, username: c.username, kind: kindOf(c), fingerprint: c.fingerprint,
      labels: { privateKey: secretLabel(c.privateKeyEnc), passphrase: secretLabel(c.passphraseEnc), password: secretLabel(c.passwordEnc) },
    },
    hosts: c.hosts,
  };
}

async function loadCredential(svc: Pick<Services, 'db'>, id: number) {
  const c = await svc.db.credential.findUnique({ where: { id } });
  if (!c) throw notFound('That credential');
  return c;
}

async function assertNameFree(svc: Pick<Services, 'db'>, name: string, exceptId?: number) {
  const other = await svc.db.credential.findUnique({ where: { name }, select: { id: true } });
  if (other && other.id !== exceptId) throw new FerryError('conflict', tk('A credential named "{{name}}" already exists.'), { params: { name }, fields: { name: tk('already exists') } });
}

export async function createCredential(svc: Services, ctx: Ctx, input: unknown): Promise<{ id: number; name: string }> {
  await assertAdmin(svc, ctx, 'credential.create', String((input as { name?: unknown } | undefined)?.name ?? ''));
  const data = parseForm(credentialSchema, input);
  if (!data.privateKey && !data.password) throw invalid({ privateKey: tk('give a private key, a password, or both'), password: tk('give a private key, a password, or both') });
  if (data.passphrase && !data.privateKey) throw invalid({ passphrase: tk('a passphrase only makes sense with a private key') });
  await assertNameFree(svc, data.name);
  const fingerprint = data.privateKey ? keyFingerprint(data.privateKey, data.passphrase) : '';
  const enc = (v: string | undefined) => (v ? encryptSecret(svc.secretKey, v) : null);
  const c = await svc.db.credential.create({
    data: {
      name: data.name, username: data.username, fingerprint,
      privateKeyEnc: enc(data.privateKey), passphraseEnc: enc(data.passphrase), passwordEnc: enc(data.password),
    },
  });
  const set = CREDENTIAL_SECRET_INPUTS.filter((k) => data[k]);
  await recordOp(svc, ctx, { action: 'credential.create', result: 'ok', target: c.name, detail: `user ${c.username}; set: ${set.join(', ')}${fingerprint ? `; key ${fingerprint}` : ''}` });
  return { id: c.id, name: c.name };
}

export async function updateCredential(svc: Services, ctx: Ctx, id: number, input: unknown): Promise<{ id: number; name: string; changed: string[] }> {
  const before = await loadCredential(svc, id);
  await assertAdmin(svc, ctx, 'credential.update', before.name);
  const data = parseForm(credentialSchema, input);
  if (data.name !== before.name) await assertNameFree(svc, data.name, id);

  // Work out each secret's new plain value: typed -> new, "clear" -> gone, empty -> unchanged.
  const open = (stored: string | null) => (stored ? decryptSecret(svc.secretKey, stored) : undefined);
  const changed: string[] = [];
  if (data.name !== before.name) changed.push('name');
  if (data.username !== before.username) changed.push('username');
  const next: Partial<Record<SecretName, string | undefined>> = {};
  const columns: Partial<Record<'privateKeyEnc' | 'passphraseEnc' | 'passwordEnc', string | null>> = {};
  for (const name of CREDENTIAL_SECRET_INPUTS) {
    const clear = data[`clear${name[0].toUpperCase()}${name.slice(1)}` as 'clearPrivateKey' | 'clearPassphrase' | 'clearPassword'];
    const typed = data[name];
    if (typed && clear) throw invalid({ [name]: tk('type a new value or tick "clear", not both') });
    const current = open(before[COLUMN[name]]);
    if (clear) next[name] = undefined;
    else if (typed) next[name] = typed;
    else next[name] = current;
    if (next[name] !== current) {
      changed.push(name);
      columns[COLUMN[name]] = next[name] ? encryptSecret(svc.secretKey, next[name]) : null;
    }
  }
  if (!next.privateKey && !next.password) {
    throw invalid({ privateKey: tk('a credential needs a private key, a password, or both'), password: tk('a credential needs a private key, a password, or both') });
  }
  if (next.passphrase && !next.privateKey) throw invalid({ passphrase: tk('a passphrase only makes sense with a private key; tick "clear"') });
  let fingerprint = before.fingerprint;
  if (changed.includes('privateKey') || changed.includes('passphrase')) {
    fingerprint = next.privateKey ? keyFingerprint(next.privateKey, next.passphrase) : '';
  }

  if (changed.length) await svc.db.credential.update({ where: { id }, data: { name: data.name, username: data.username, fingerprint, ...columns } });
  const renamed = data.name !== before.name ? ` (renamed from ${before.name})` : '';
  const keyNote = fingerprint !== before.fingerprint && fingerprint ? `; key ${fingerprint}` : '';
  await recordOp(svc, ctx, { action: 'credential.update', result: 'ok', target: data.name, detail: changeDetail(changed) + renamed + keyNote });
  return { id, name: data.name, changed };
}

export async function deleteCredential(svc: Services, ctx: Ctx, id: number): Promise<{ name: string }> {
  const c = await loadCredential(svc, id);
  await assertAdmin(svc, ctx, 'credential.delete', c.name);
  const hosts = await svc.db.host.findMany({ where: { credentialId: id }, select: { name: true }, orderBy: { name: 'asc' } });
  if (hosts.length) {
    const shown = hosts.slice(0, 10).map((h) => h.name).join(', ');
    const params = { name: c.name, count: hosts.length, hosts: shown, more: hosts.length - 10 };
    throw new FerryError('conflict', hosts.length > 10
      ? tk('Credential "{{name}}" is still used by {{count}} host(s): {{hosts}} and {{more}} more. Give those hosts another credential first.')
      : tk('Credential "{{name}}" is still used by {{count}} host(s): {{hosts}}. Give those hosts another credential first.'), { params });
  }
  await svc.db.credential.delete({ where: { id } });
  await recordOp(svc, ctx, { action: 'credential.delete', result: 'ok', target: c.name });
  return { name: c.name };
}
