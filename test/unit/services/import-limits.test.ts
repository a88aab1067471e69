// The import parser (used by the upload page, the API and the CLI) refuses hostile documents with a plain 400.
import { describe, expect, it } from 'vitest';
import { parseImportFile } from '../../../src/services/import.ts';
import { FerryError } from '../../../src/lib/errors.ts';
import { IMPORT_LIMITS } from '../../../src/config.ts';

const refusal = (fn: () => unknown): FerryError => {
  try {
    fn();
  } catch (err) {
    return err as FerryError;
  }
  throw new Error('expected a refusal');
};

describe('import limits', () => {
  it('a billion-laughs YAML file is an FerryError 400 naming the aliases, in well under a second', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(9).fill(i === 1 ? '*a' : `*l${i - 1}`).join(',')}]`);
    levels.push('users: [*l8]');
    const started = Date.now();
    const err = refusal(() => parseImportFile(levels.join('\n'), 'yaml'));
    expect(err).toBeInstanceOf(FerryError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/aliases/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a file over the size limit is refused before it is parsed', () => {
    const err = refusal(() => parseImportFile(`users: []\n#${'x'.repeat(IMPORT_LIMITS.maxFileChars)}`, 'yaml'));
    expect(err).toBeInstanceOf(FerryError);
    expect(err.message).toMatch(/too large/);
  });

  it('JSON and YAML nested deeper than the limit are refused', () => {
    const depth = IMPORT_LIMITS.maxDepth + 5;
    for (const [text, format] of [[`{"users":${'['.repeat(depth)}${']'.repeat(depth)}}`, 'json'], [`users: ${'['.repeat(depth)}${']'.repeat(depth)}`, 'yaml']] as const) {
      const err = refusal(() => parseImportFile(text, format));
      expect(err, format).toBeInstanceOf(FerryError);
      expect(err.message, format).toMatch(/nested more than/);
    }
  });

  it.each([
    ['YAML with a million "["', () => `a: ${'['.repeat(1_000_000)}`, 'yaml'],
    ['YAML with a million nested "- " on one line', () => `a:\n  ${'- '.repeat(1_000_000)}x`, 'yaml'],
    ['YAML with a million "{" after a key', () => `a: &x !!map ${'{b: '.repeat(500_000)}`, 'yaml'],
    ['YAML with a million "[" after a flow key', () => `[a]: ${'['.repeat(1_000_000)}`, 'yaml'],
    ['YAML with a million "[" after a quote inside a plain scalar', () => `a: [x' ${'['.repeat(1_000_000)}`, 'yaml'],
    ['JSON with a million "["', () => `{"a":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`, 'json'],
  ] as const)('%s is refused as too deeply nested before it is parsed, in well under a second', (_label, text, format) => {
    const doc = text();
    const started = process.hrtime.bigint();
    const err = refusal(() => parseImportFile(doc, format));
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(err).toBeInstanceOf(FerryError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/nested more than/);
    expect(ms).toBeLessThan(1000);
  });

  it('brackets inside quoted strings, plain scalars, comments and block scalars do not count as nesting', () => {
    const deep = '[['.repeat(IMPORT_LIMITS.maxDepth);
    const yaml = [
      `# ${deep}`,
      'users:',
      `  - name: alice # ${deep}`,
      '    role: viewer',
      `    password: "a${deep}b"`,
      'projects:',
      '  - name: game',
      `    description: plain text ${deep} with brackets`,
      '    svnUrl: svn://svn.example/game/trunk',
      '    deployDir: /srv/game',
      '    hooks:',
      '      - stage: before-publish',
      '        script: |',
      `          if [ -f x ]; then echo '${deep}'; fi`,
      `          ${deep}`,
      '      - stage: after-publish',
      `        script: ['not', 'a', 'string']`,
    ].join('\n');
    const err = refusal(() => parseImportFile(yaml, 'yaml'));
    // Refused for the list given as a script, not for the brackets elsewhere.
    expect(err.message).not.toMatch(/nested more than/);
    expect(Object.keys(err.fields ?? {}).join(' ')).toMatch(/script/);
  });
});
