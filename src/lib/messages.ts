// Message keys. User-facing text is keyed by its English wording (see src/web/i18n.ts); code that builds a message
// far from where it is shown marks the key with tk() so the key check finds it, and fills it with fill().

/** Marks an English message key for the key check; returns it unchanged (it is translated where it is shown). */
export const tk = (key: string): string => key;

export type MessageParams = Readonly<Record<string, string | number>>;

/** Fills {{name}} placeholders, as i18next does, for the English text of a message. */
export function fill(template: string, params?: MessageParams): string {
  if (!params) return template;
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}
