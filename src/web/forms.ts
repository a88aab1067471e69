// Form handling shared by the HTML routes: which failures re-render a form (and with what), which become a flash
// message, what is echoed back into a failed form, and route ids.
import { FerryError, notFound, translateError } from '../lib/errors.ts';
import { translateFieldMessages } from '../services/config/form.ts';

type Translate = (key: string, params?: Record<string, unknown>) => string;

/** Field errors of a failed save (400/409 with fields), to re-render the form; anything else is rethrown. */
export function formFailure(err: unknown): FerryError & { fields: Record<string, string> } {
  if (err instanceof FerryError && err.fields && (err.kind === 'invalid' || err.kind === 'conflict')) {
    return err as FerryError & { fields: Record<string, string> };
  }
  throw err;
}

/**
 * A failed form's field messages in the request's language (`req.t`), ready for the view. Views show errors with
 * t(message) too, which translates static messages; this also translates messages with a variable part
 * ("at most 64 characters").
 */
export function formErrors(failure: { fields: Record<string, string> }, t: Translate): Record<string, string> {
  return translateFieldMessages(failure.fields, t);
}

/** A refusal to show as a flash message (409 conflict, or 400 without field errors); anything else is rethrown. */
export function refusal(err: unknown): FerryError {
  if (err instanceof FerryError && (err.kind === 'conflict' || (err.kind === 'invalid' && !err.fields))) return err;
  throw err;
}

/** A refusal's message in the request's language, for a flash message. */
export const refusalMessage = (err: unknown, t: Translate): string => translateError(refusal(err), t);

/** What the user typed, for re-rendering a failed form: secret inputs are never echoed back. */
export function echoValues(body: unknown, secretNames: readonly string[]): Record<string, unknown> {
  const values: Record<string, unknown> = { ...(body && typeof body === 'object' ? body : {}) };
  delete values._csrf;
  for (const name of secretNames) delete values[name];
  return values;
}

/** Parses a route's numeric id; anything else is a 404. `what` is a message key naming the thing: "That host". */
export function idParam(value: unknown, what: string): number {
  const id = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) throw notFound(what);
  return id;
}
