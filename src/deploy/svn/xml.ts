// A small reader for svn's --xml output (regular, no DTD), fast enough for 20,000-entry listings, and the parsers of
// `svn list`, `svn log -v` and `svn info` built on it.
import { PROJECT_ROOT } from '../selection.ts';
import type { SvnChangedPath, SvnDirEntry, SvnInfo, SvnLogEntry } from './types.ts';


interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const XML_ATTR = /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const XML_ENTITY = /&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g;
const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const TAG_NAME_END = /[\s/>]/g;

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(XML_ENTITY, (_, entity: string) => {
    if (entity[0] !== '#') return NAMED_ENTITIES[entity];
    const codePoint = entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return String.fromCodePoint(codePoint);
  });
}

function isBlank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) return false;
  }
  return true;
}

function countQuotes(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('"', from); i !== -1 && i < to; i = text.indexOf('"', i + 1)) n++;
  return n;
}

interface XmlHandler {
  /** `attrs` parses the attributes only when called. Self-closing elements get open() then close(). */
  open(name: string, attrs: () => Record<string, string>): void;
  close(name: string): void;
  /** Entity-decoded text; whitespace between child elements is left out. */
  text(text: string): void;
}

function parseAttrs(raw: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const attr of raw.matchAll(XML_ATTR)) attrs[attr[1]] = decodeEntities(attr[2] ?? attr[3] ?? '');
  return attrs;
}

/** An indexOf-based event scanner: no tree, so a 20,000-entry listing allocates little. */
function scanXml(xml: string, handler: XmlHandler): void {
  const open: string[] = [];
  let hadChild = false;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt !== i) {
      const end = lt === -1 ? xml.length : lt;
      if (!isBlank(xml, i, end)) {
        if (open.length === 0) throw new Error(`text outside the document element at offset ${i}`);
        handler.text(decodeEntities(xml.slice(i, end)));
      } else if (!hadChild && open.length > 0) {
        handler.text(xml.slice(i, end));
      }
      if (lt === -1) break;
    }
    if (xml.startsWith('<?', lt)) {
      i = skipPast(xml, '?>', lt);
      continue;
    }
    if (xml.startsWith('<!--', lt)) {
      i = skipPast(xml, '-->', lt);
      continue;
    }
    if (xml.startsWith('<![CDATA[', lt)) {
      i = skipPast(xml, ']]>', lt);
      handler.text(xml.slice(lt + 9, i - 3));
      continue;
    }
    let gt = xml.indexOf('>', lt);
    while (gt !== -1 && countQuotes(xml, lt, gt) % 2 === 1) gt = xml.indexOf('>', gt + 1);
    if (gt === -1) throw new Error(`unterminated tag at offset ${lt}`);
    i = gt + 1;
    if (xml.charCodeAt(lt + 1) === 0x2f /* / */) {
      const name = xml.slice(lt + 2, gt).trim();
      if (open.pop() !== name) throw new Error(`unexpected </${name}> at offset ${lt}`);
      hadChild = true;
      handler.close(name);
      continue;
    }
    const selfClosing = xml.charCodeAt(gt - 1) === 0x2f;
    TAG_NAME_END.lastIndex = lt + 1;
    const nameEnd = Math.min(TAG_NAME_END.exec(xml)?.index ?? gt, gt);
    const name = xml.slice(lt + 1, nameEnd);
    if (name === '') throw new Error(`unreadable tag at offset ${lt}`);
    const rawAttrs = xml.slice(nameEnd, selfClosing ? gt - 1 : gt);
    handler.open(name, () => parseAttrs(rawAttrs));
    if (selfClosing) {
      hadChild = true;
      handler.close(name);
    } else {
      open.push(name);
      hadChild = false;
    }
  }
  if (open.length > 0) throw new Error(`XML ends inside <${open[open.length - 1]}>`);
}

/** Parses svn's (small) XML answers into a tree. */
export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  scanXml(xml, {
    open(name, attrs) {
      const node: XmlNode = { name, attrs: attrs(), children: [], text: '' };
      stack[stack.length - 1].children.push(node);
      stack.push(node);
    },
    close() {
      stack.pop();
    },
    text(text) {
      stack[stack.length - 1].text += text;
    },
  });
  return root;
}

function skipPast(xml: string, terminator: string, from: number): number {
  const at = xml.indexOf(terminator, from);
  if (at === -1) throw new Error(`unterminated markup at offset ${from}`);
  return at + terminator.length;
}

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

function childrenNamed(node: XmlNode | undefined, name: string): XmlNode[] {
  return node ? node.children.filter((c) => c.name === name) : [];
}

function textOf(node: XmlNode | undefined, name: string): string | null {
  const found = child(node, name);
  return found ? found.text : null;
}

function toInt(value: string | null | undefined, what: string): number {
  const n = Number(value);
  if (value == null || value === '' || !Number.isSafeInteger(n)) throw new Error(`svn output has no valid ${what}`);
  return n;
}

type ListField = 'name' | 'size' | 'author' | 'date';
const LIST_FIELDS = new Set<string>(['name', 'size', 'author', 'date']);

/** Parses `svn list --xml` for one directory, streaming (listings can have tens of thousands of entries). */
export function parseListXml(xml: string, parentPath: string): SvnDirEntry[] {
  const prefix = parentPath === PROJECT_ROOT ? '' : `${parentPath}/`;
  const entries: SvnDirEntry[] = [];
  let sawList = false;
  let kind: 'file' | 'dir' = 'file';
  let rev = '';
  let fields: Record<ListField, string | null> | null = null;
  let field: ListField | null = null;
  scanXml(xml, {
    open(name, attrs) {
      if (name === 'list') sawList = true;
      else if (name === 'entry') {
        kind = attrs().kind === 'dir' ? 'dir' : 'file';
        rev = '';
        fields = { name: null, size: null, author: null, date: null };
      } else if (name === 'commit' && fields) rev = attrs().revision ?? '';
      else if (fields && LIST_FIELDS.has(name)) {
        field = name as ListField;
        fields[field] = '';
      }
    },
    text(text) {
      if (fields && field) fields[field] += text;
    },
    close(name) {
      if (name === field) field = null;
      if (name !== 'entry' || !fields) return;
      const entryName = fields.name ?? '';
      entries.push({
        name: entryName,
        path: prefix + entryName,
        kind,
        size: kind === 'file' && fields.size !== null ? toInt(fields.size, 'size') : null,
        rev: toInt(rev, 'revision'),
        author: fields.author,
        date: fields.date,
      });
      fields = null;
    },
  });
  if (!sawList) throw new Error('svn list output has no <list>');
  return entries;
}

/** Makes a repository-root path ('/trunk/a.txt') relative to the project ('a.txt'), when it is inside it. */
export function projectRelative(repoPath: string, projectPathInRepo: string): string {
  if (projectPathInRepo === '') return repoPath.replace(/^\/+/, '');
  if (repoPath === projectPathInRepo) return '';
  if (repoPath.startsWith(`${projectPathInRepo}/`)) return repoPath.slice(projectPathInRepo.length + 1);
  return repoPath;
}

/** Parses `svn log --xml -v`. */
export function parseLogXml(xml: string, projectPathInRepo: string): SvnLogEntry[] {
  const log = child(parseXml(xml), 'log');
  if (!log) throw new Error('svn log output has no <log>');
  return childrenNamed(log, 'logentry').map((entry) => ({
    revision: toInt(entry.attrs.revision, 'revision'),
    author: textOf(entry, 'author'),
    date: textOf(entry, 'date'),
    message: textOf(entry, 'msg') ?? '',
    paths: childrenNamed(child(entry, 'paths'), 'path').map((p) => {
      const changed: SvnChangedPath = {
        action: p.attrs.action ?? '',
        path: projectRelative(p.text, projectPathInRepo),
        kind: p.attrs.kind === 'file' || p.attrs.kind === 'dir' ? p.attrs.kind : 'unknown',
      };
      if (p.attrs['copyfrom-path'] !== undefined) {
        changed.copyFromPath = projectRelative(p.attrs['copyfrom-path'], projectPathInRepo);
        changed.copyFromRev = toInt(p.attrs['copyfrom-rev'], 'copy-from revision');
      }
      return changed;
    }),
  }));
}

/** Parses `svn info --xml` for one URL. */
export function parseInfoXml(xml: string): SvnInfo {
  const entry = child(child(parseXml(xml), 'info'), 'entry');
  if (!entry) throw new Error('svn info output has no <entry>');
  const repository = child(entry, 'repository');
  const commit = child(entry, 'commit');
  const relativeUrl = textOf(entry, 'relative-url') ?? '^/';
  return {
    url: textOf(entry, 'url') ?? '',
    repositoryRoot: textOf(repository, 'root') ?? '',
    repositoryUuid: textOf(repository, 'uuid'),
    pathInRepository: decodeURIComponent(relativeUrl.replace(/^\^/, '')).replace(/\/+$/, ''),
    revision: toInt(entry.attrs.revision, 'revision'),
    lastChangedRev: toInt(commit?.attrs.revision, 'last changed revision'),
    lastChangedAuthor: textOf(commit, 'author'),
    lastChangedDate: textOf(commit, 'date'),
  };
}
