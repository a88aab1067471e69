// Planner for credentials and hosts. Hosts are written in jump order so a jump host exists before its users.
import { DEFAULTS } from '../../config.ts';
import { sameHostKey } from '../../deploy/hostkey.ts';
import { encryptOptional } from '../../lib/crypto.ts';
import { item, sameSecret, type BuiltImport, type PlanItem, type Stored } from './plan-common.ts';
import type { HostEntry, ImportDocument } from './schema.ts';

export function planCredentials(doc: ImportDocument, stored: Stored, key: Buffer, out: BuiltImport): void {
  for (const c of doc.credentials) {
    const cur = stored.credentials.get(c.name);
    // A key credential carries no password and vice versa: the file's choice replaces the stored one whole.
    const wanted = { privateKey: c.privateKey ?? null, passphrase: c.privateKey ? (c.passphrase ?? null) : null, password: c.password ?? null };
    if (!cur) {
      out.plan.credentials.push(item('credential', c.name, null));
      out.steps.push(async (tx, ids) => {
        const row = await tx.credential.create({
          data: {
            name: c.name, username: c.username, fingerprint: c.fingerprint,
            privateKeyEnc: encryptOptional(key, wanted.privateKey), passphraseEnc: encryptOptional(key, wanted.passphrase), passwordEnc: encryptOptional(key, wanted.password),
          },
        });
        ids.remember('credential', c.name, row.id);
      });
      continue;
    }
    const changes: string[] = [];
    const data: { username?: string; fingerprint?: string; privateKeyEnc?: string | null; passphraseEnc?: string | null; passwordEnc?: string | null } = {};
    if (cur.username !== c.username) { changes.push('username'); data.username = c.username; }
    const secrets = [['privateKey', cur.privateKeyEnc], ['passphrase', cur.passphraseEnc], ['password', cur.passwordEnc]] as const;
    const changedSecrets = secrets.filter(([field, enc]) => !sameSecret(key, enc, wanted[field])).map(([field]) => field);
    for (const field of changedSecrets) changes.push(`${field} (secret)`);
    if (cur.fingerprint !== c.fingerprint) { changes.push('fingerprint'); data.fingerprint = c.fingerprint; }
    out.plan.credentials.push(item('credential', c.name, changes));
    if (!changes.length) continue;
    out.steps.push(async (tx) => {
      for (const field of changedSecrets) data[`${field}Enc` as const] = encryptOptional(key, wanted[field]);
      await tx.credential.update({ where: { id: cur.id }, data });
    });
  }
}

/** File hosts ordered so that a jump host in the file is written before the hosts that go through it. */
function hostsInJumpOrder(hosts: HostEntry[]): HostEntry[] {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const ordered: HostEntry[] = [];
  const placed = new Set<string>();
  const place = (h: HostEntry, depth: number) => {
    if (placed.has(h.name) || depth > hosts.length) return;
    const jump = h.jump ? byName.get(h.jump) : undefined;
    if (jump) place(jump, depth + 1);
    placed.add(h.name);
    ordered.push(h);
  };
  for (const h of hosts) place(h, 0);
  return ordered;
}

export function planHosts(doc: ImportDocument, stored: Stored, out: BuiltImport): void {
  const items = new Map<string, PlanItem>();
  for (const h of hostsInJumpOrder(doc.hosts)) {
    const cur = stored.hosts.get(h.name);
    if (!cur) {
      items.set(h.name, item('host', h.name, null));
      out.steps.push(async (tx, ids) => {
        const row = await tx.host.create({
          data: {
            name: h.name, address: h.address, port: h.port ?? DEFAULTS.sshPort, credentialId: await ids.credential(h.credential),
            jumpHostId: h.jump ? await ids.host(h.jump) : null, hostKey: h.hostKey ?? null, relayMode: h.relayMode ?? 'auto',
            deployDir: h.deployDir ?? null,
          },
        });
        ids.remember('host', h.name, row.id);
      });
      continue;
    }
    const changes: string[] = [];
    if (cur.address !== h.address) changes.push('address');
    if (h.port !== undefined && cur.port !== h.port) changes.push('port');
    if (cur.credential.name !== h.credential) changes.push('credential');
    if (h.jump !== undefined && (cur.jumpHost?.name ?? null) !== h.jump) changes.push('jump');
    if (h.hostKey !== undefined && !(h.hostKey === null ? cur.hostKey === null : cur.hostKey !== null && sameHostKey(cur.hostKey, h.hostKey))) changes.push('hostKey');
    if (h.relayMode !== undefined && cur.relayMode !== h.relayMode) changes.push('relayMode');
    if (h.deployDir !== undefined && cur.deployDir !== h.deployDir) changes.push('deployDir');
    items.set(h.name, item('host', h.name, changes));
    if (!changes.length) continue;
    out.steps.push(async (tx, ids) => {
      await tx.host.update({
        where: { id: cur.id },
        data: {
          address: h.address,
          ...(h.port !== undefined && { port: h.port }),
          ...(changes.includes('credential') && { credentialId: await ids.credential(h.credential) }),
          ...(changes.includes('jump') && { jumpHostId: h.jump ? await ids.host(h.jump) : null }),
          ...(h.hostKey !== undefined && changes.includes('hostKey') && { hostKey: h.hostKey }),
          ...(h.relayMode !== undefined && { relayMode: h.relayMode }),
          ...(h.deployDir !== undefined && { deployDir: h.deployDir }),
        },
      });
    });
  }
  // The preview lists hosts in file order; only the writes follow jump order.
  out.plan.hosts.push(...doc.hosts.map((h) => items.get(h.name)!));
}
