// Collects import problems keyed by the entry and field they concern ("hosts[3].address") and turns them into one 400.
// Each problem keeps its message key and values besides its English text (the API's `fields`), so the import page can
// show it in the user's language.
import type { z } from 'zod';
import { FerryError, type FerryErrorOptions } from '../../lib/errors.ts';
import { fill, tk, type MessageParams } from '../../lib/messages.ts';

type PathPart = string | number;

/** ['projects', 0, 'groups', 'zone1', 1] -> "projects[0].groups.zone1[1]" */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(file)';
}

/** A message key with the values of its {{placeholders}} (keyParams: values that are message keys themselves). */
export interface ProblemMessage {
  key: string;
  params?: MessageParams;
  keyParams?: readonly string[];
}

/** English texts made by issueMessage -> their key and values (bounded: the texts come from the schema's limits). */
const DESCRIBED = new Map<string, ProblemMessage>();

/** Fills a message key in English and remembers how, so the problem can be translated where it is shown. */
function described(key: string, params?: MessageParams, keyParams?: readonly string[]): string {
  const text = fill(key, params);
  if (params && DESCRIBED.size < 1000) DESCRIBED.set(text, { key, params, keyParams });
  return text;
}

/**
 * A refused import file: `fields` (English, as the API returns them) and the same problems as message keys, and the
 * message the import page shows above the list (the English `message` may already list the problems).
 */
export class ImportError extends FerryError {
  readonly problems: Record<string, ProblemMessage>;
  readonly pageMessage?: ProblemMessage;

  constructor(message: string, opts: FerryErrorOptions & { problems: Record<string, ProblemMessage>; pageMessage?: ProblemMessage }) {
    const { problems, pageMessage, ...rest } = opts;
    super('invalid', message, { ...rest, fields: Object.fromEntries(Object.entries(problems).map(([k, p]) => [k, fill(p.key, p.params)])) });
    this.problems = problems;
    this.pageMessage = pageMessage;
  }
}

/** A refused file with one problem about the file as a whole: message and field problem are message keys. */
export function fileError(message: string, problem: ProblemMessage, params?: MessageParams): ImportError {
  return new ImportError(message, { params, problems: { file: problem } });
}

export class Problems {
  readonly fields: Record<string, string> = {};
  readonly messages: Record<string, ProblemMessage> = {};

  /** `message` is a message key when `params` are given (or it has no placeholders). */
  add(path: readonly PathPart[], message: string, params?: MessageParams, keyParams?: readonly string[]): void {
    const key = formatPath(path);
    // The first problem of a field is the one to fix first; later ones are usually follow-ups.
    if (key in this.fields) return;
    this.fields[key] = fill(message, params);
    this.messages[key] = params ? { key: message, params, keyParams } : (DESCRIBED.get(message) ?? { key: message });
  }

  get count(): number {
    return Object.keys(this.fields).length;
  }

  /** Throws a 400 listing every problem, if there are any. */
  throwIfAny(): void {
    if (this.count === 0) return;
    const lines = Object.entries(this.fields).map(([key, msg]) => `${key}: ${msg}`);
    const shown = lines.slice(0, 20).join('; ') + (lines.length > 20 ? `; and ${lines.length - 20} more` : '');
    throw new ImportError(`The import file has ${lines.length} problem${lines.length === 1 ? '' : 's'}: ${shown}`, {
      problems: this.messages, pageMessage: { key: tk('The import file has {{count}} problems:'), params: { count: lines.length } },
    });
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: tk('text'), number: tk('a number'), int: tk('a whole number'), array: tk('a list'), object: tk('a mapping'), record: tk('a mapping'),
  boolean: tk('true or false'),
};

/** Messages written for people editing a file, passed to zod's safeParse as its error map. */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined || issue.input === null) return tk('required');
      return TYPE_WORDS[issue.expected]
        ? described(tk('must be {{type}}'), { type: TYPE_WORDS[issue.expected] }, ['type'])
        : described(tk('must be {{type}}'), { type: issue.expected });
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) <= 1) return tk('required');
      if (issue.origin === 'string') return described(tk('at least {{n}} characters'), { n: String(issue.minimum) });
      return described(tk('must be at least {{n}}'), { n: String(issue.minimum) });
    case 'too_big':
      if (issue.origin === 'string') return described(tk('at most {{n}} characters'), { n: String(issue.maximum) });
      return described(tk('must be at most {{n}}'), { n: String(issue.maximum) });
    case 'invalid_value':
      return described(tk('must be one of {{choices}}'), { choices: issue.values.map(String).join(', ') });
    default:
      return undefined;
  }
}

export function addZodIssues(problems: Problems, issues: readonly z.core.$ZodIssue[]): void {
  for (const issue of issues) {
    const path = issue.path.filter((p): p is PathPart => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.add([...path, key], path.length ? tk('unknown field') : tk('unknown section (expected credentials, hosts, projects, users)'));
    } else if (issue.code === 'invalid_key') {
      problems.add(path, issue.issues[0]?.message ?? tk('invalid name'));
    } else {
      problems.add(path, issue.message);
    }
  }
}
