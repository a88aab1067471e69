// The previewed import document travels to the browser and back sealed (AES-256-GCM under a key derived for this
// purpose), so *Apply* submits exactly what was previewed while the page never holds the secrets it contains in clear
// text. A sealed preview is bound to the user who made it and expires after IMPORT_LIMITS.previewTtlMs.
import crypto from 'node:crypto';
import { IMPORT_LIMITS } from '../../config.ts';
import { decryptSecret, encryptSecret } from '../../lib/crypto.ts';
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';

export type ImportFileFormat = 'yaml' | 'json' | 'csv' | 'auto';

export interface PreviewedFile {
  text: string;
  format: ImportFileFormat;
  filename: string;
}

interface Sealed extends PreviewedFile {
  userId: number | null;
  expires: number;
}

function previewKey(secretKey: Buffer): Buffer {
  return crypto.createHmac('sha256', secretKey).update('ferry-import-preview').digest();
}

export function sealPreview(secretKey: Buffer, userId: number | null, file: PreviewedFile, now = Date.now()): string {
  const value: Sealed = { ...file, userId, expires: now + IMPORT_LIMITS.previewTtlMs };
  return encryptSecret(previewKey(secretKey), JSON.stringify(value));
}

/** The previewed file, if `sealed` is intact, was made for `userId` and has not expired; else a plain 400. */
export function openPreview(secretKey: Buffer, sealed: string, userId: number | null, now = Date.now()): PreviewedFile {
  let value: Sealed;
  try {
    value = JSON.parse(decryptSecret(previewKey(secretKey), sealed)) as Sealed;
  } catch {
    throw new FerryError('invalid', 'This preview cannot be applied (it was damaged, or the server key changed). Upload the file again.');
  }
  if (value.userId !== userId) throw new FerryError('invalid', 'This preview belongs to another user. Upload the file again.');
  if (value.expires < now) {
    const minutes = Math.round(IMPORT_LIMITS.previewTtlMs / 60_000);
    throw new FerryError('invalid', tk('This preview is older than {{minutes}} minutes. Upload the file again to see what it would change now.'), { params: { minutes } });
  }
  return { text: value.text, format: value.format, filename: value.filename };
}
