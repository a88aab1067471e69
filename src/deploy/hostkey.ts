// Host key helpers for pinning: keys are kept as "type base64" (a known_hosts entry without the host names),
// and shown to people as SHA256 fingerprints, the way `ssh-keygen -l` prints them.
import { FerryError } from '../lib/errors.ts';
import { createHash } from 'node:crypto';

interface ParsedHostKey {
  type: string;
  base64: string;
  blob: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The key type written inside an SSH wire-format public key blob (uint32 length + name), or null if unreadable. */
function keyTypeOfBlob(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return null;
  const type = blob.subarray(4, 4 + length).toString('latin1');
  return /^[a-z0-9@.+-]+$/i.test(type) ? type : null;
}

/** "type base64" for a key blob as presented by a server. */
export function hostKeyFromBlob(blob: Buffer): string {
  const type = keyTypeOfBlob(blob);
  if (!type) throw new FerryError('invalid', 'unreadable SSH host key');
  return `${type} ${blob.toString('base64')}`;
}

/**
 * Reads "type base64", "type base64 comment" or a whole known_hosts line ("host1,host2 type base64 ...",
 * optionally with a @marker). The key is the first field whose blob says it has that field's type.
 */
function parseHostKey(text: string): ParsedHostKey {
  const fields = text.trim().split(/\s+/);
  for (let i = 0; i + 1 < fields.length; i++) {
    const [type, base64] = [fields[i], fields[i + 1]];
    if (!BASE64.test(base64)) continue;
    const blob = Buffer.from(base64, 'base64');
    if (keyTypeOfBlob(blob) === type) return { type, base64: blob.toString('base64'), blob };
  }
  throw new FerryError('invalid', 'not an SSH public key: expected "type base64", e.g. "ssh-ed25519 AAAAC3Nza..."');
}

/** Canonical "type base64" form of a pasted key or known_hosts line. */
export function normalizeHostKey(text: string): string {
  const { type, base64 } = parseHostKey(text);
  return `${type} ${base64}`;
}

/** "SHA256:..." fingerprint of a "type base64" key (or a raw blob), as `ssh-keygen -l` prints it. */
export function fingerprintOf(key: string | Buffer): string {
  const blob = typeof key === 'string' ? parseHostKey(key).blob : key;
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** True when both texts hold the same key (comments and host names ignored). Unreadable text never matches. */
export function sameHostKey(a: string, b: string): boolean {
  try {
    return parseHostKey(a).blob.equals(parseHostKey(b).blob);
  } catch {
    return false;
  }
}
