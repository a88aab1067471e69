import { describe, expect, it } from 'vitest';
import { normalizeProjectPath, normalizeSelection, SelectionError } from '../../../src/deploy/selection.ts';

function refusal(paths: string[]): SelectionError {
  try {
    normalizeSelection(paths);
  } catch (error) {
    expect(error).toBeInstanceOf(SelectionError);
    return error as SelectionError;
  }
  throw new Error(`expected ${JSON.stringify(paths)} to be refused`);
}

describe('normalizeSelection', () => {
  it('strips leading ./ and trailing / and collapses repeated slashes', () => {
    expect(normalizeSelection(['./a/b/', 'c//d.txt', './e/./f'])).toEqual(['a/b', 'c/d.txt', 'e/f']);
  });

  it('dedupes and drops entries inside a selected directory', () => {
    expect(normalizeSelection(['conf/app.ini', 'conf', 'conf/', 'web/index.php', 'web/index.php', 'conf/sub/x'])).toEqual([
      'conf',
      'web/index.php',
    ]);
  });

  it('does not treat a sibling with a common prefix as covered', () => {
    expect(normalizeSelection(['a', 'a-b/c', 'ab', 'a/b'])).toEqual(['a', 'a-b/c', 'ab']);
  });

  it('keeps Chinese names and spaces', () => {
    expect(normalizeSelection(['配置/服务器.txt', 'my docs/read me.txt'])).toEqual(['my docs/read me.txt', '配置/服务器.txt']);
  });

  it('treats "." as the whole project, which covers everything else', () => {
    expect(normalizeSelection(['a.txt', '.', 'b/'])).toEqual(['.']);
    expect(normalizeSelection(['./'])).toEqual(['.']);
  });

  it('allows names that merely contain dots or colons', () => {
    expect(normalizeSelection(['..hidden', 'a..b/c', '...', 'x:y'])).toEqual(['...', '..hidden', 'a..b/c', 'x:y']);
  });

  it('refuses an empty list', () => {
    expect(refusal([]).message).toBe('Nothing is selected');
  });

  it('refuses parent-directory segments, naming the path', () => {
    expect(refusal(['ok.txt', '../etc/passwd']).message).toBe('"../etc/passwd" is outside the project');
    expect(refusal(['a/../../b']).message).toContain('"a/../../b"');
    expect(refusal(['a/..']).message).toContain('outside the project');
  });

  it('refuses absolute paths, drive letters and URLs', () => {
    expect(refusal(['/etc/passwd']).message).toBe('"/etc/passwd" is an absolute path; give it relative to the project');
    expect(refusal(['C:/Windows']).message).toContain('absolute');
    expect(refusal(['svn://evil/repo']).message).toContain('absolute');
  });

  it('refuses backslashes', () => {
    expect(refusal(['..\\..\\etc\\passwd']).message).toContain('backslash');
    expect(refusal(['a\\b']).message).toContain('"a\\\\b"');
  });

  it('refuses NUL and other control characters', () => {
    expect(refusal(['a\u0000b']).message).toContain('control characters');
    expect(refusal(['line\nbreak']).message).toContain('control characters');
  });

  it('refuses empty entries and non-text', () => {
    expect(refusal(['']).message).toBe('A selected path is empty');
    expect(refusal([42 as unknown as string]).message).toBe('A selected path is not text');
  });
});

describe('normalizeProjectPath', () => {
  it('returns the canonical form of one path', () => {
    expect(normalizeProjectPath('./web/static/')).toBe('web/static');
    expect(normalizeProjectPath('.')).toBe('.');
  });
});
