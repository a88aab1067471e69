// The one validation of configuration values, shared by the admin forms (form.ts wraps these for form strings) and
// the bulk import (import/schema.ts): the same length caps, character rules and ranges whichever way a value arrives.
import path from 'node:path';
import { z } from 'zod';
import { FIELD_LIMITS as L } from '../../config.ts';
import { fill, tk, type MessageParams } from '../../lib/messages.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;
/** A control character (NUL, line breaks, tabs, DEL). Not global: safe for repeated .test(). */
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u001f\u007f]/;
const LINE_BREAK = /[\r\n]/;

// Field messages with a variable part. The messages stay plain English strings (the import reports them as they are,
// the API returns them in `fields`); translateFieldMessage() recognises these templates to show them translated.
const AT_MOST_CHARS = tk('at most {{n}} characters');
const AT_LEAST_CHARS = tk('at least {{n}} characters');
const MIN_VALUE = tk('must be at least {{n}}');
const MAX_VALUE = tk('must be at most {{n}}');
const NOT_PLAIN = tk('must be written plainly, without "//", "." or ".." (did you mean "{{dir}}"?)');
/** "must be one of a, b, c" (enums: hook stages, channel kinds, events). */
export const ONE_OF = tk('must be one of {{choices}}');
/** "a project can have at most 20 channels". */
export const MAX_CHANNELS = tk('a project can have at most {{n}} channels');

/** Every field message template with {{placeholders}}, in the order they are tried. */
export const FIELD_MESSAGE_TEMPLATES: readonly string[] = [AT_MOST_CHARS, AT_LEAST_CHARS, MIN_VALUE, MAX_VALUE, NOT_PLAIN, ONE_OF, MAX_CHANNELS];

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const TEMPLATE_MATCHERS = FIELD_MESSAGE_TEMPLATES.map((template) => {
  const names: string[] = [];
  const source = template.split(/(\{\{\s*\w+\s*\}\})/).map((part) => {
    const m = /^\{\{\s*(\w+)\s*\}\}$/.exec(part);
    if (!m) return escapeRegex(part);
    names.push(m[1]);
    return '(.+?)';
  }).join('');
  return { template, names, regex: new RegExp(`^${source}$`, 's') };
});

/** A field message as a key and its values: the template it was filled from, or the message itself. */
export function fieldMessageKey(message: string): { key: string; params?: MessageParams } {
  for (const { template, names, regex } of TEMPLATE_MATCHERS) {
    const m = regex.exec(message);
    if (m) return { key: template, params: Object.fromEntries(names.map((name, i) => [name, m[i + 1]])) };
  }
  return { key: message };
}

/** A field message in the language of `t` (static messages are keys themselves; filled templates are recognised). */
export function translateFieldMessage(message: string, t: (key: string, params?: Record<string, unknown>) => string): string {
  const { key, params } = fieldMessageKey(message);
  return params ? t(key, params) : t(key);
}

/** All field messages of a failed form in the language of `t`. */
export function translateFieldMessages(fields: Record<string, string>, t: (key: string, params?: Record<string, unknown>) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([name, message]) => [name, translateFieldMessage(message, t)]));
}

const max = (n: number) => [n, fill(AT_MOST_CHARS, { n })] as const;

/** Names of projects, hosts, credentials, users, groups, processes and hooks. */
export const nameRule = z.string({ error: tk('required') }).trim().min(1, tk('required')).max(...max(L.name))
  .regex(NAME, tk('must start with a letter or digit and hold only letters, digits, ".", "_", "-" or "@"'));

/** A one-line value without spaces (SSH user name, address). */
const token = (limit: number) => z.string({ error: tk('required') }).trim().min(1, tk('required')).max(...max(limit))
  .refine((v) => !/\s/.test(v), tk('must not contain spaces or line breaks'));

export const usernameRule = token(L.username);
export const addressRule = token(L.address);

/** One line of free text (may be empty). */
const lineRule = (limit: number) => z.string().trim().max(...max(limit)).refine((v) => !CONTROL.test(v), tk('must be one line without control characters'));

export const descriptionRule = z.string().trim().max(...max(L.description));
export const svnUsernameRule = lineRule(L.svnUsername);
export const svnUrlRule = z.string({ error: tk('required') }).trim().min(1, tk('required')).max(...max(L.svnUrl))
  .refine((u) => /^(svn|svn\+ssh|https?|file):\/\/\S+$/.test(u), tk('must start with svn://, svn+ssh://, http://, https:// or file://'))
  .refine((u) => !passwordInUrl(u), tk('put the password in the SVN password field, not in the URL'));

function passwordInUrl(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

/** Passwords and passphrases: never trimmed (spaces may belong to them), one line, bounded. */
export const passwordRule = z.string().max(...max(L.password)).refine((p) => !LINE_BREAK.test(p), tk('must not contain line breaks'));
export const userPasswordRule = passwordRule.refine((p) => p.length >= L.userPasswordMin, fill(AT_LEAST_CHARS, { n: L.userPasswordMin }));
export const privateKeyRule = z.string().max(...max(L.privateKey));
export const hostKeyRule = z.string().trim().max(...max(L.hostKey));

/**
 * A deploy directory: absolute, one line, and already in its plain form (what `path.posix.normalize` gives, one
 * trailing slash allowed), so "/", "/.", "//", "/srv/./x" and any ".." are refused instead of being resolved later.
 */
export const deployDirRule = z.string({ error: tk('required') }).trim().min(1, tk('required')).max(...max(L.path))
  .refine((p) => p.startsWith('/'), tk('must be an absolute path (starting with /)'))
  .refine((p) => !CONTROL.test(p), tk('must not contain line breaks or control characters'))
  .superRefine((p, ctx) => {
    if (!p.startsWith('/') || CONTROL.test(p)) return;
    const problem = deployDirShapeProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform(withoutTrailingSlash);

function withoutTrailingSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

function deployDirShapeProblem(p: string): string | null {
  const plain = withoutTrailingSlash(p);
  const normal = path.posix.normalize(plain);
  if (normal === '/' || normal === '.' || plain.split('/').includes('..')) return tk('must not be "/" or contain ".."');
  if (normal !== plain) return fill(NOT_PLAIN, { dir: normal.replace(/\/$/, '') });
  return null;
}

/**
 * Checks a deploy directory read from the database (an old install may hold values today's forms refuse): the
 * problem in plain words, or null when the engine may use it as it is.
 */
export function storedDeployDirProblem(dir: string): string | null {
  const result = deployDirRule.safeParse(dir);
  if (!result.success) return result.error.issues[0].message;
  if (result.data !== withoutTrailingSlash(dir)) return tk('must not have spaces around it');
  return null;
}

/** Start, stop and status commands (one shell line or a short script). */
export const commandRule = z.string().trim().max(...max(L.command));
export const requiredCommandRule = commandRule.refine((c) => c.length > 0, tk('required'));
export const scriptRule = z.string({ error: tk('required') }).trim().min(1, tk('required')).max(...max(L.script));

export const RANGES = {
  port: L.port, keepSnapshots: L.keepSnapshots, concurrency: L.concurrency, hookTimeoutSec: L.hookTimeoutSec, approvalHours: L.approvalHours,
} as const;

/** A whole number within a range, with plain messages. */
export const intRule = (range: { min: number; max: number }) => z.number({ error: (issue) => (issue.input === undefined ? tk('required') : tk('must be a whole number')) })
  .int(tk('must be a whole number')).min(range.min, fill(MIN_VALUE, { n: range.min })).max(range.max, fill(MAX_VALUE, { n: range.max }));

// ---- Notification channels (the project page's form and the import's `notifications:` entries) ----

/** A robot or webhook address: http(s) only (nothing else is ever requested), one line, bounded. */
export const notifyUrlRule = z.string().trim().max(...max(L.notifyUrl))
  .refine((u) => u === '' || /^https?:\/\/[^\s/?#]+\S*$/i.test(u), tk('must be an http:// or https:// address'))
  .refine((u) => u === '' || URL.canParse(u), tk('is not a valid address'));

/** A DingTalk/Feishu signing secret or webhook HMAC key: never trimmed, one line. */
export const notifySecretRule = z.string().max(...max(L.notifySecret)).refine((s) => !LINE_BREAK.test(s), tk('must not contain line breaks'));

const EMAIL = /^[^\s@,;<>"]+@[^\s@,;<>"]+\.[^\s@,;<>"]+$/;
/** E-mail recipients separated by commas, semicolons or spaces; stored as "a@x, b@y". */
export const notifyToRule = z.string().trim().max(...max(L.notifyTo))
  .transform((v) => v.split(/[\s,;]+/).filter(Boolean))
  .refine((list) => list.every((a) => EMAIL.test(a)), tk('must be e-mail addresses separated by commas'))
  .refine((list) => list.length <= 20, tk('at most 20 recipients'))
  .transform((list) => [...new Set(list)].join(', '));

/** What may be shown of a channel's URL: scheme, host and path without the query, long path parts (tokens) hidden. */
export function notifyUrlHint(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname.split('/').map((part) => (part.length >= 16 ? '…' : part)).join('/');
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return '';
  }
}
