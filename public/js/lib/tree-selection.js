// What is ticked in the publish page's file tree, as marks on paths: a ticked folder stands for everything below it,
// and an unticked path inside it is an exclusion ("this folder except these"). The deepest mark decides, as in the
// engine (normalizeRelease in src/deploy/selection.ts). Ticking is a few map operations whatever the folder's size,
// so a folder of 20,000 files is ticked or unticked without touching its entries.

export const ROOT = '.';

export function parentOf(path) {
  if (path === ROOT) return null;
  const cut = path.lastIndexOf('/');
  return cut < 0 ? ROOT : path.slice(0, cut);
}

function isBelow(path, folder) {
  return folder === ROOT ? path !== ROOT : path.startsWith(folder + '/');
}

export class TreeSelection {
  /**
   * @param {object} tree how the loaded tree looks: `childrenOf(path)` lists a loaded folder's children, `isComplete(path)`
   *   says whether they are all loaded (not paged, not filtered). Where a folder is complete, unticking one entry
   *   ticks its siblings instead of recording an exclusion, and ticking the last one ticks the folder.
   */
  constructor(tree) {
    this.tree = tree;
    /** path -> true (ticked) or false (left out of a ticked folder above it) */
    this.marks = new Map();
  }

  isTicked(path) {
    for (let p = path; p !== null; p = parentOf(p)) if (this.marks.has(p)) return this.marks.get(p);
    return false;
  }

  /** A mark below `path` disagrees with it: a ticked folder with exclusions, or an unticked one with ticked entries. */
  isPartial(path) {
    const ticked = this.isTicked(path);
    for (const [p, mark] of this.marks) if (mark !== ticked && isBelow(p, path)) return true;
    return false;
  }

  tick(path) {
    this.clearBelow(path);
    const parent = parentOf(path);
    if (parent !== null && this.isTicked(parent)) this.marks.delete(path);
    else this.marks.set(path, true);
    // The last unticked entry of a fully loaded folder: the folder itself is ticked, and travels as one path.
    if (parent !== null && !this.isTicked(parent) && this.tree.isComplete(parent)) {
      const children = this.tree.childrenOf(parent);
      if (children.length > 0 && children.every((child) => this.isTicked(child) && !this.isPartial(child))) this.tick(parent);
    }
  }

  untick(path) {
    this.clearBelow(path);
    const parent = parentOf(path);
    if (parent === null || !this.isTicked(parent)) {
      this.marks.delete(path);
      return;
    }
    // Inside a ticked folder. Where every folder down from it is fully loaded, its other entries are ticked one by one
    // (as a plain list of paths); else the path becomes an exclusion.
    const chain = [];
    let top = parent;
    for (; !this.marks.has(top); top = parentOf(top)) chain.push(top);
    chain.push(top);
    if (!chain.every((folder) => this.tree.isComplete(folder))) {
      this.marks.set(path, false);
      return;
    }
    this.marks.delete(top);
    let inside = path;
    for (const folder of chain) {
      for (const child of this.tree.childrenOf(folder)) if (child !== inside && !this.marks.has(child)) this.marks.set(child, true);
      inside = folder;
    }
  }

  clear() {
    this.marks.clear();
  }

  /** { files, exclude } for the publish API: ticked paths (none inside another without an exclusion between), and exclusions inside them. */
  request() {
    const files = [];
    const exclude = [];
    for (const [path, mark] of this.marks) {
      const above = parentOf(path) !== null && this.isTicked(parentOf(path));
      if (mark && !above) files.push(path);
      else if (!mark && above) exclude.push(path);
    }
    return { files: files.sort(), exclude: exclude.sort() };
  }

  clearBelow(path) {
    for (const p of Array.from(this.marks.keys())) if (isBelow(p, path)) this.marks.delete(p);
  }
}
