// The publish page's tick model (public/js/lib/tree-selection.js): what a click means, and that what it sends is what
// the server's normalizeRelease accepts unchanged.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeRelease } from '../../../src/deploy/selection.ts';

interface Model {
  tick(path: string): void;
  untick(path: string): void;
  isTicked(path: string): boolean;
  isPartial(path: string): boolean;
  request(): { files: string[]; exclude: string[] };
}
const browserModule = pathToFileURL(path.resolve(import.meta.dirname, '../../../public/js/lib/tree-selection.js')).href;

/** A loaded tree: folder -> children; `paged` folders show only part of their entries. */
async function modelOf(folders: Record<string, string[]>, paged: string[] = []): Promise<Model> {
  const { TreeSelection } = (await import(browserModule)) as { TreeSelection: new (tree: object) => Model };
  return new TreeSelection({
    childrenOf: (p: string) => folders[p] ?? [],
    isComplete: (p: string) => p in folders && !paged.includes(p),
  });
}
const sent = (model: Model) => {
  const request = model.request();
  if (request.files.length) expect(normalizeRelease(request.files, request.exclude)).toEqual(request);
  return request;
};

describe('TreeSelection', () => {
  const tree = { '.': ['conf', 'maps'], conf: ['conf/a.ini', 'conf/b.ini'], maps: ['maps/map_0', 'maps/map_1', 'maps/sub'], 'maps/sub': ['maps/sub/x', 'maps/sub/y'] };

  it('in a fully loaded folder, unticking a file ticks its siblings, and ticking the last one ticks the folder', async () => {
    const model = await modelOf(tree);
    model.tick('conf');
    expect(model.isTicked('conf/b.ini')).toBe(true);
    model.untick('conf/b.ini');
    expect(sent(model)).toEqual({ files: ['conf/a.ini'], exclude: [] });
    expect(model.isTicked('conf')).toBe(false);
    model.tick('conf/b.ini');
    expect(sent(model)).toEqual({ files: ['conf'], exclude: [] });
  });

  it('in a paged folder, unticking entries makes exclusions, and re-ticking removes them', async () => {
    const model = await modelOf(tree, ['maps']);
    model.tick('maps');
    model.untick('maps/map_1');
    model.untick('maps/sub');
    expect(model.isTicked('maps')).toBe(true);
    expect(model.isPartial('maps')).toBe(true);
    expect(sent(model)).toEqual({ files: ['maps'], exclude: ['maps/map_1', 'maps/sub'] });
    model.tick('maps/sub/x');
    expect(sent(model)).toEqual({ files: ['maps', 'maps/sub/x'], exclude: ['maps/map_1', 'maps/sub'] });
    model.tick('maps/sub');
    model.tick('maps/map_1');
    expect(sent(model)).toEqual({ files: ['maps'], exclude: [] });
    expect(model.isPartial('maps')).toBe(false);
    model.untick('maps');
    expect(sent(model)).toEqual({ files: [], exclude: [] });
  });

  it('unticking inside a paged folder under a ticked project keeps the project with one exclusion', async () => {
    const model = await modelOf(tree, ['maps']);
    model.tick('.');
    model.untick('maps/map_0');
    expect(sent(model)).toEqual({ files: ['.'], exclude: ['maps/map_0'] });
  });

  it('ticks and unticks in a folder of 20,000 entries in well under a millisecond each', async () => {
    const big = Array.from({ length: 20_000 }, (_, i) => `maps/map_${i}`);
    const model = await modelOf({ '.': ['maps'], maps: big }, ['maps']);
    const started = performance.now();
    model.tick('maps');
    for (let i = 0; i < 100; i++) model.untick(big[i * 7]);
    expect(performance.now() - started).toBeLessThan(200);
    expect(sent(model).exclude).toHaveLength(100);
  });
});
