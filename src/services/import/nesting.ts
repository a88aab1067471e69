// A linear look at the text of a YAML or JSON import before any parser sees it: how deep does it nest? The yaml
// parser takes seconds (and overflows its stack) on a line of a million "[" or "- ", so such a file must be refused
// before parsing. The estimate follows YAML's rules closely enough that quotes, comments, plain text and block
// scalars do not count, and errs towards counting more (block indentation and compact "- " each count one level).

interface ScanState {
  /** Open flow collections ([ and {); 0 means block context. */
  flow: number;
  /** Block depth at which the current flow collection started. */
  flowBase: number;
  /** Inside a quoted scalar that continues on the next line. */
  quote: '"' | "'" | null;
  /** Indentations of the open block levels. */
  indents: number[];
  /** Lines indented more than this belong to a block scalar (| or >); null when not in one. */
  scalarAbove: number | null;
  /** Last significant character in flow context (a quote opens a scalar only after one of [{,: or at the start). */
  flowPrev: string;
}

/** The deepest nesting the text seems to have, or Infinity as soon as it passes `limit` (the scan stops there). */
export function estimateNesting(text: string, limit: number): number {
  const s: ScanState = { flow: 0, flowBase: 0, quote: null, indents: [], scalarAbove: null, flowPrev: '[' };
  let deepest = 0;
  const note: Note = (depth) => {
    if (depth > deepest) deepest = depth;
    return depth > limit;
  };
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
    if (scanLine(line, s, note)) return Infinity;
  }
  return deepest;
}

type Note = (depth: number) => boolean;

/** Scans one line; true when the limit was passed. */
function scanLine(line: string, s: ScanState, note: Note): boolean {
  let i = 0;
  if (s.quote) {
    i = closeQuote(line, 0, s.quote);
    if (i === -1) return false;
    s.quote = null;
    s.flowPrev = 'x';
    if (s.flow === 0) return scanAfterKey(line, i, s.indents.length, -1, s, note);
  }
  if (s.flow > 0) {
    const end = scanFlow(line, i, s, note);
    if (end === true) return true;
    return end === -1 ? false : scanAfterKey(line, end, s.flowBase, -1, s, note);
  }

  let indent = 0;
  while (line[indent] === ' ') indent++;
  const blank = indent === line.length || line[indent] === '#';
  if (s.scalarAbove !== null) {
    if (blank || indent > s.scalarAbove) return false;
    s.scalarAbove = null;
  }
  if (blank) return false;
  if (indent === 0 && /^(---|\.\.\.)(\s|$)/.test(line.slice(0, 4))) {
    s.indents = [];
    if (line.startsWith('...')) return false;
    i = 3;
  } else {
    i = indent;
    while (s.indents.length && s.indents[s.indents.length - 1] >= indent) s.indents.pop();
    s.indents.push(indent);
  }
  let depth = s.indents.length;
  // Compact indicators: "- - - x" nests one level per "- " on the same line.
  let lastIndicator = indent - 1;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    const c = line[i];
    if ((c === '-' || c === '?' || c === ':') && (i + 1 === line.length || line[i + 1] === ' ' || line[i + 1] === '\t')) {
      lastIndicator = i;
      i++;
      if (note(++depth)) return true;
      continue;
    }
    break;
  }
  if (note(depth)) return true;
  return scanNode(line, i, depth, lastIndicator, s, note);
}

/**
 * A node in block context: anchors and tags, then a flow collection, a block scalar, a quoted scalar or a plain
 * scalar; a key (quoted, plain or a flow collection) is followed by its value on the same line, which is scanned the
 * same way (a loop, so "a: a: a: ..." cannot exhaust the stack). `owner` is the column a block scalar's lines must be
 * indented beyond.
 */
function scanNode(line: string, from: number, depth: number, owner: number, s: ScanState, note: Note): boolean {
  let i = from;
  for (;;) {
    i = skipProperties(line, i);
    const c = line[i];
    if (c === undefined || c === '#') return false;
    const keyAt = i;
    if (c === '[' || c === '{') {
      s.flowBase = depth;
      s.flowPrev = '[';
      const end = scanFlow(line, i, s, note);
      if (end === true) return true;
      if (end === -1) return false;
      i = valueAfterKey(line, end);
    } else if (c === '|' || c === '>') {
      s.scalarAbove = owner;
      return false;
    } else if (c === '"' || c === "'") {
      const after = closeQuote(line, i + 1, c);
      if (after === -1) {
        s.quote = c;
        return false;
      }
      i = valueAfterKey(line, after);
    } else {
      const colon = plainKeyEnd(line, i);
      i = colon === -1 ? -1 : valueAfterKey(line, colon);
    }
    if (i === -1) return false;
    owner = keyAt;
  }
}

/** After a quoted or flow key: ": value" continues the line. */
function scanAfterKey(line: string, from: number, depth: number, keyAt: number, s: ScanState, note: Note): boolean {
  const i = valueAfterKey(line, from);
  return i === -1 ? false : scanNode(line, i, depth, keyAt, s, note);
}

/** Where the value after a key starts ("key: value"), or -1 when no ":" follows or nothing is after it. */
function valueAfterKey(line: string, from: number): number {
  let i = from;
  while (line[i] === ' ' || line[i] === '\t') i++;
  if (line[i] !== ':') return -1;
  i++;
  while (line[i] === ' ' || line[i] === '\t') i++;
  return i < line.length ? i : -1;
}

/**
 * Inside flow collections only brackets outside quoted scalars and comments count. Returns true when the limit was
 * passed, the index after the bracket that closed the outermost collection, or -1 when the line was used up.
 */
function scanFlow(line: string, from: number, s: ScanState, note: Note): true | number {
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (c === ' ' || c === '\t') continue;
    if (c === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) return -1;
    if ((c === '"' || c === "'") && '[{,:'.includes(s.flowPrev)) {
      const after = closeQuote(line, i + 1, c);
      if (after === -1) {
        s.quote = c;
        return -1;
      }
      i = after - 1;
      s.flowPrev = 'x';
      continue;
    }
    if (c === '[' || c === '{') {
      s.flow++;
      if (note(s.flowBase + s.flow)) return true;
    } else if (c === ']' || c === '}') {
      s.flow = Math.max(0, s.flow - 1);
      if (s.flow === 0) return i + 1;
    }
    s.flowPrev = c;
  }
  return -1;
}

/** Index just after the closing quote, or -1 when the scalar continues on the next line. */
function closeQuote(line: string, from: number, quote: '"' | "'"): number {
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (quote === '"' && c === '\\') i++;
    else if (c === quote) {
      if (quote === "'" && line[i + 1] === "'") i++;
      else return i + 1;
    }
  }
  return -1;
}

/** Skips anchors (&a) and tags (!t) before a node. */
function skipProperties(line: string, from: number): number {
  let i = from;
  while (line[i] === '&' || line[i] === '!') {
    while (i < line.length && line[i] !== ' ' && line[i] !== '\t') i++;
    while (line[i] === ' ' || line[i] === '\t') i++;
  }
  return i;
}

/** Position of the ":" ending a plain key on this line, or -1 when the line holds a plain scalar (or a comment) only. */
function plainKeyEnd(line: string, from: number): number {
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (c === '#' && i > from && (line[i - 1] === ' ' || line[i - 1] === '\t')) return -1;
    if (c === ':' && (i + 1 === line.length || line[i + 1] === ' ' || line[i + 1] === '\t')) return i;
  }
  return -1;
}
