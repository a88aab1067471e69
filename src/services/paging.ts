// The one place request paging and search values are turned into safe numbers and text, for every list that pages
// (job history, operation log, their APIs). Anything odd is clamped or dropped: a page far past the end is empty, not an error.
import { PAGING } from '../config.ts';
import { CONTROL } from './config/rules.ts';

const CONTROL_ALL = new RegExp(CONTROL.source, 'g');

/** A whole number written in plain digits and small enough to be exact; anything else (1e3, -1, 1.5, huge) is undefined. */
export function safeWholeNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !/^\s*\d{1,15}\s*$/.test(value)) return undefined;
  return Number(value);
}

export interface Page { offset: number; limit: number }

/** A number, or the fallback when the value is missing or not a number at all (Infinity is kept: it gets clamped). */
function numberOr(value: unknown, fallback: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isNaN(n) ? fallback : n;
}

/**
 * Clamps an offset/limit pair, whatever its source (query string, API, service caller): a huge offset (1e300) means
 * "past the end" and gives an empty page; a limit outside 1..maxLimit is brought inside.
 */
export function clampPage(offset: unknown, limit: unknown, maxLimit: number = PAGING.maxLength, defaultLimit: number = PAGING.defaultLength): Page {
  const clamp = (n: number, min: number, max: number) => Math.trunc(Math.min(Math.max(n, min), max));
  return { offset: clamp(numberOr(offset, 0), 0, PAGING.maxOffset), limit: clamp(numberOr(limit, defaultLimit), 1, maxLimit) };
}

/** Search text: control characters (NUL included) become spaces, the rest is trimmed and cut to a sane length. */
export function searchText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = value.replace(CONTROL_ALL, ' ').trim().slice(0, PAGING.maxSearchLength).trim();
  return clean || undefined;
}
