// Shared pieces of the configuration services: form field schemas (HTML forms send only strings),
// turning zod issues into per-field messages, and naming which fields an edit changed.
import { z } from 'zod';
import { FerryError, badRequest } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import { intRule, nameRule, passwordRule } from './rules.ts';

export { fieldMessageKey, translateFieldMessage, translateFieldMessages } from './rules.ts';

/** Names of projects, hosts, credentials, users, groups, processes and hooks (the same rule as the import file). */
export const nameField = nameRule;

/** A shared rule (rules.ts) applied to a form input: a missing field counts as empty. */
export const formText = <S extends z.ZodType>(rule: S) => z.preprocess((v) => v ?? '', rule);

/** An optional shared rule: a missing or blank field is undefined. */
export const optionalFormText = <S extends z.ZodType>(rule: S) =>
  z.preprocess((v) => (v === undefined || v === null || (typeof v === 'string' && v.trim() === '') ? undefined : v), rule.optional());

/** A whole number typed into a form: "" is missing, anything but digits is refused with a plain message. */
export const intField = (min: number, max: number) => z.preprocess(
  (v) => (typeof v === 'string' ? (v.trim() === '' ? undefined : /^\s*-?\d+\s*$/.test(v) ? Number(v) : v) : v),
  intRule({ min, max }),
);

/** A checkbox: present ("on", "1", "true") or absent. */
export const checkbox = z.preprocess((v) => v === true || v === 'on' || v === '1' || v === 'true', z.boolean());

/** A multi-select of record ids: absent, one value or several. */
export const idList = z.preprocess(
  (v) => (v === undefined || v === null || v === '' ? [] : Array.isArray(v) ? v : [v]),
  z.array(z.preprocess((x) => (typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x), z.number({ error: tk('unknown choice') }).int().positive())),
).transform((ids) => [...new Set(ids)]);

/** An optional record id from a select ("" means none). */
export const optionalId = z.preprocess(
  (v) => (v === undefined || v === null || v === '' ? null : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z.number({ error: tk('unknown choice') }).int().positive().nullable(),
);

/** A required record id from a select. */
export const requiredId = (message: string) => z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z.number({ error: message }).int().positive(message),
);

/** A secret input: never trimmed (spaces may be part of a password); "" means "not given". Same rule as the import. */
export const secretField = secretInput(passwordRule);

/** A secret input checked by `rule` (e.g. the user password rule with its minimum length). */
export function secretInput<S extends z.ZodType<string>>(rule: S) {
  return z.preprocess((v) => (typeof v === 'string' && v !== '' ? v : undefined), rule.optional());
}

/** Parses form input or throws a 400 whose fields map each form field to its first problem. */
export function parseForm<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const fields: Record<string, string> = {};
  for (const issue of parsed.error.issues) {
    const key = String(issue.path[0] ?? '_form');
    fields[key] ??= issue.message;
  }
  throw invalid(fields);
}

/** The standard 400 for a form with problems. */
export function invalid(fields: Record<string, string>): FerryError {
  return badRequest('Please correct the marked fields.', fields);
}

/** Names of the keys whose values differ (arrays compared as sets). */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const same = (a: unknown, b: unknown) => {
    if (Array.isArray(a) && Array.isArray(b)) {
      const sa = new Set(a.map(String));
      return sa.size === new Set(b.map(String)).size && b.every((x) => sa.has(String(x)));
    }
    return a === b;
  };
  return Object.keys(after).filter((key) => !same(before[key], after[key]));
}

/** "changed: a, b" or "no changes" for the operation log. */
export const changeDetail = (fields: string[]) => (fields.length ? `changed: ${fields.join(', ')}` : 'no changes');

export function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) out[key] = obj[key];
  return out;
}
