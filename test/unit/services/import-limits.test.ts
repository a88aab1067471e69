// The import parser (used by the upload page, the API and the CLI) refuses hostile documents with a plain 400.
import { describe, expect, it } from 'vitest';
import { parseImportFile } from '../../../src/services/import.ts';
import { AppError } from '../../../src/lib/errors.ts';
import { IMPORT_LIMITS } from '../../../src/config.ts';

const refusal = (fn: () => unknown): AppError => {
  try {
    fn();
  } catch (err) {
    return err as AppError;
  }
  throw new Error('expected a refusal');
};

describe('import limits', () => {
  it('a billion-laughs YAML file is an AppError 400 naming the aliases, in well under a second', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(9).fill(i === 1 ? '*a' : `*l${i - 1}`).join(',')}]`);
    levels.push('users: [*l8]');
    const started = Date.now();
    const err = refusal(() => parseImportFile(levels.join('\n'), 'yaml'));
    expect(err).toBeInstanceOf(AppError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/aliases/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a file over the size limit is refused before it is parsed', () => {
    const err = refusal(() => parseImportFile(`users: []\n#${'x'.repeat(IMPORT_LIMITS.maxFileChars)}`, 'yaml'));
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toMatch(/too large/);
  });

  it('JSON and YAML nested deeper than the limit are refused', () => {
    const depth = IMPORT_LIMITS.maxDepth + 5;
    for (const [text, format] of [[`{"users":${'['.repeat(depth)}${']'.repeat(depth)}}`, 'json'], [`users: ${'['.repeat(depth)}${']'.repeat(depth)}`, 'yaml']] as const) {
      const err = refusal(() => parseImportFile(text, format));
      expect(err, format).toBeInstanceOf(AppError);
      expect(err.message, format).toMatch(/nested more than/);
    }
  });
});
