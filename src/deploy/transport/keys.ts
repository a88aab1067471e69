// Private keys held for agent forwarding, decrypted in memory with ssh2's parser; nothing is ever written to disk.
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import type { AgentKey } from '../types.ts';
import { TransportError } from './errors.ts';

const { utils } = ssh2;

/** "type base64" public half of a private key (for an ssh IdentityFile that selects an agent key); throws if unreadable. */
export function publicKeyOf(key: AgentKey, hostName: string): string {
  const parsed = parsePrivateKey(key, hostName);
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}

/** The decrypted key, or a TransportError in the words authConfig uses. */
export function parsePrivateKey(key: AgentKey, hostName: string, owner = `of ${hostName}`): ParsedKey {
  const parsed = utils.parseKey(key.privateKey, key.passphrase || undefined) as ParsedKey | ParsedKey[] | Error;
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (first instanceof Error || !first?.isPrivateKey()) {
    const reason = first instanceof Error ? first.message : 'not a private key';
    throw new TransportError(`cannot read the private key ${owner}: ${reason}`, hostName, 'bad-key', { cause: first });
  }
  return first;
}
