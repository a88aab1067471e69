import { describe, expect, it } from 'vitest';
import { normalizeRelease, SelectionError } from '../../../src/deploy/selection.ts';

describe('normalizeRelease', () => {
  it('keeps exclusions inside selected folders, sorted, and is normalizeSelection without them', () => {
    expect(normalizeRelease(['maps/', './conf'], ['maps/b.dat', 'maps//a.dat'])).toEqual({ files: ['conf', 'maps'], exclude: ['maps/a.dat', 'maps/b.dat'] });
    expect(normalizeRelease(['conf/app.ini', 'conf'])).toEqual({ files: ['conf'], exclude: [] });
    expect(normalizeRelease(['.'], ['maps'])).toEqual({ files: ['.'], exclude: ['maps'] });
  });

  it('lets the deepest entry decide: a file ticked again inside an excluded folder stays, redundant entries go', () => {
    expect(normalizeRelease(['a', 'a/x/keep', 'a/y/file'], ['a/x', 'a/x/keep/deeper', 'a/x/gone'])).toEqual({
      files: ['a', 'a/x/keep'], exclude: ['a/x', 'a/x/keep/deeper'],
    });
  });

  it('refuses exclusions outside every selected folder, equal to a selection, or escaping the project', () => {
    const refused = (files: string[], exclude: unknown) => {
      try {
        normalizeRelease(files, exclude as string[]);
      } catch (error) {
        expect(error).toBeInstanceOf(SelectionError);
        return (error as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refused(['maps'], ['conf/app.ini'])).toMatch(/not inside a selected folder/);
    expect(refused(['maps'], ['maps'])).toMatch(/both selected and excluded/);
    expect(refused(['maps'], ['maps/../conf'])).toMatch(/outside the project/);
    expect(refused(['maps'], ['/maps/a'])).toMatch(/absolute path/);
    expect(refused(['maps'], ['maps\\a'])).toMatch(/backslash/);
    expect(refused(['maps'], 'maps/a')).toMatch(/must be a list/);
    expect(refused([], ['maps/a'])).toMatch(/Nothing is selected/);
  });
});
