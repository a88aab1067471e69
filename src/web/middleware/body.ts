// Request body parsers. Every route gets the small limit (it runs before authentication); only the import routes
// parse a large body, with their own parser placed after the administrator check. JSON nesting is bounded before
// JSON.parse runs, so a nesting bomb is answered 400 at once.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { BODY_LIMITS } from '../../config.ts';
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';

/** Fails when arrays/objects nest deeper than `max` (a linear scan of the raw bytes, strings skipped). */
export function assertJsonDepth(buf: Buffer, max: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) throw new FerryError('invalid', tk('The JSON body nests arrays or objects deeper than {{max}} levels.'), { params: { max } });
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

// The scan reads bytes as UTF-8; in UTF-16 or UTF-7 a quote or bracket has other bytes, so other charsets are refused.
const verifyDepth = (_req: Request, _res: Response, buf: Buffer, encoding: string) => {
  if (encoding.toLowerCase().replace('-', '') !== 'utf8') throw new FerryError('unsupported', 'JSON bodies must be UTF-8.');
  assertJsonDepth(buf, BODY_LIMITS.jsonDepth);
};

/** JSON with the given size limit and the nesting check. */
export const jsonBody = (limit: number): RequestHandler => express.json({ limit, verify: verifyDepth });

// body-parser 2 supports `depth` (nesting of a[b][c] names); its type definitions do not list it yet.
const formOptions = { extended: true, limit: BODY_LIMITS.bytes, parameterLimit: BODY_LIMITS.formFields, depth: BODY_LIMITS.formDepth };
const formBody = express.urlencoded(formOptions as Parameters<typeof express.urlencoded>[0]);
const smallJson = jsonBody(BODY_LIMITS.bytes);

/** Routes whose body is parsed by their own (large) parser after the administrator check. */
const LARGE_BODY_ROUTES = new Set(['/api/import']);

/** The global parsers: small limits, skipped on the import routes. */
export function smallBodies(req: Request, res: Response, next: NextFunction) {
  if (req.method === 'POST' && LARGE_BODY_ROUTES.has(req.path)) return next();
  formBody(req, res, (err?: unknown) => (err ? next(err) : smallJson(req, res, next)));
}
