// Builds the engine's HostTarget objects from the database: decrypted credentials and the jump-host chain.
// Used by jobs and by the "Test connection" button. Results hold secrets: never log them.
import type { HostTarget } from '../deploy/types.ts';
import { decryptSecret } from '../lib/crypto.ts';
import { FerryError } from '../lib/errors.ts';
import { tk } from '../lib/messages.ts';
import type { Services } from './context.ts';

const MAX_JUMP_DEPTH = 8;

type HostRow = {
  id: number; name: string; address: string; port: number; hostKey: string | null; jumpHostId: number | null;
  credential: { username: string; privateKeyEnc: string | null; passphraseEnc: string | null; passwordEnc: string | null };
};

/** Resolves many hosts (and their jump hosts) with as few queries as the chain depth. */
export async function resolveHostTargets(svc: Pick<Services, 'db' | 'secretKey'>, hostIds: number[]): Promise<Map<number, HostTarget>> {
  const rows = new Map<number, HostRow>();
  let wanted = [...new Set(hostIds)];
  for (let depth = 0; wanted.length; depth++) {
    if (depth > MAX_JUMP_DEPTH) throw new FerryError('invalid', 'The jump-host chain is too long or loops back on itself. Check the hosts\' jump settings.');
    const found = await svc.db.host.findMany({ where: { id: { in: wanted } }, include: { credential: true } });
    for (const row of found) rows.set(row.id, row);
    const missing = wanted.filter((id) => !rows.has(id));
    if (missing.length) throw new FerryError('not-found', tk('Host #{{id}} does not exist any more.'), { params: { id: missing[0] } });
    wanted = [...new Set(found.map((r) => r.jumpHostId).filter((id): id is number => id !== null && !rows.has(id)))];
  }
  const secret = (enc: string | null) => (enc ? decryptSecret(svc.secretKey, enc) : undefined);
  const build = (id: number, seen: number[]): HostTarget => {
    if (seen.includes(id)) throw new FerryError('invalid', tk('The jump hosts of "{{name}}" loop back on themselves.'), { params: { name: rows.get(seen[0])!.name } });
    const r = rows.get(id)!;
    return {
      name: r.name, address: r.address, port: r.port, username: r.credential.username,
      privateKey: secret(r.credential.privateKeyEnc), passphrase: secret(r.credential.passphraseEnc), password: secret(r.credential.passwordEnc),
      hostKey: r.hostKey, jump: r.jumpHostId !== null ? build(r.jumpHostId, [...seen, id]) : null,
    };
  };
  return new Map(hostIds.map((id) => [id, build(id, [])]));
}

/** Pins a host key on first successful connect (only if the host still has none). */
export async function pinHostKey(svc: Pick<Services, 'db'>, hostName: string, hostKey: string): Promise<boolean> {
  const { count } = await svc.db.host.updateMany({ where: { name: hostName, hostKey: null }, data: { hostKey } });
  return count > 0;
}
