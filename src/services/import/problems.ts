// Collects import problems keyed by the entry and field they concern ("hosts[3].address") and turns them into one 400.
import type { z } from 'zod';
import { FerryError } from '../../lib/errors.ts';

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

export class Problems {
  readonly fields: Record<string, string> = {};

  add(path: readonly PathPart[], message: string): void {
    const key = formatPath(path);
    // The first problem of a field is the one to fix first; later ones are usually follow-ups.
    if (!(key in this.fields)) this.fields[key] = message;
  }

  get count(): number {
    return Object.keys(this.fields).length;
  }

  /** Throws a 400 listing every problem, if there are any. */
  throwIfAny(): void {
    if (this.count === 0) return;
    const lines = Object.entries(this.fields).map(([key, msg]) => `${key}: ${msg}`);
    const shown = lines.slice(0, 20).join('; ') + (lines.length > 20 ? `; and ${lines.length - 20} more` : '');
    throw new FerryError('invalid', `The import file has ${lines.length} problem${lines.length === 1 ? '' : 's'}: ${shown}`, { fields: this.fields });
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text', number: 'a number', int: 'a whole number', array: 'a list', object: 'a mapping', record: 'a mapping',
  boolean: 'true or false',
};

/** Messages written for people editing a file, passed to zod's safeParse as its error map. */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined || issue.input === null) return 'required';
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) <= 1) return 'required';
      if (issue.origin === 'string') return `at least ${String(issue.minimum)} characters`;
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'string') return `at most ${String(issue.maximum)} characters`;
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return undefined;
  }
}

export function addZodIssues(problems: Problems, issues: readonly z.core.$ZodIssue[]): void {
  for (const issue of issues) {
    const path = issue.path.filter((p): p is PathPart => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.add([...path, key], path.length ? 'unknown field' : 'unknown section (expected credentials, hosts, projects, users)');
    } else if (issue.code === 'invalid_key') {
      problems.add(path, issue.issues[0]?.message ?? 'invalid name');
    } else {
      problems.add(path, issue.message);
    }
  }
}
