import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openPreview, sealPreview } from '../../../src/services/import/preview-seal.ts';

const key = randomBytes(32);
const file = { text: 'credentials:\n  - name: ops\n    password: s3cret\n', format: 'yaml' as const, filename: 'fleet.yaml' };

describe('import preview seal', () => {
  it('opens for the same user within 30 minutes, and never shows the text in the sealed form', () => {
    const sealed = sealPreview(key, 7, file, 1_000_000);
    expect(sealed).not.toContain('s3cret');
    expect(openPreview(key, sealed, 7, 1_000_000 + 29 * 60_000)).toEqual(file);
  });

  it('refuses an expired, foreign, tampered or differently keyed preview with a plain message', () => {
    const sealed = sealPreview(key, 7, file, 1_000_000);
    expect(() => openPreview(key, sealed, 7, 1_000_000 + 31 * 60_000)).toThrow(/older than 30 minutes/);
    expect(() => openPreview(key, sealed, 8, 1_000_000)).toThrow(/belongs to another user/);
    const flipped = `${sealed.slice(0, 20)}${sealed[20] === 'A' ? 'B' : 'A'}${sealed.slice(21)}`;
    expect(() => openPreview(key, flipped, 7, 1_000_000)).toThrow(/cannot be applied/);
    expect(() => openPreview(randomBytes(32), sealed, 7, 1_000_000)).toThrow(expect.objectContaining({ status: 400 }));
  });
});
