// The one error handler: a FerryError's kind decides the status and its message is shown; anything else is logged with
// its stack and shown only as "internal error" with an id that finds the log entry.
import { Writable } from 'node:stream';
import express from 'express';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { FerryError, operatorMessage } from '../../../src/lib/errors.ts';
import { createLogger } from '../../../src/lib/logger.ts';
import { errorHandler } from '../../../src/web/middleware/errors.ts';

function appThrowing(err: unknown) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }) });
  const app = express();
  app.use((req, _res, next) => {
    (req as unknown as { log: typeof logger }).log = logger;
    next();
  });
  app.get('/api/boom', () => {
    throw err;
  });
  app.use(errorHandler);
  return { app, lines };
}

describe('errorHandler', () => {
  it.each([
    ['invalid', 400], ['unauthenticated', 401], ['refused', 403], ['not-found', 404], ['conflict', 409],
    ['busy', 429], ['unreachable', 502], ['failed', 502], ['unavailable', 503], ['timeout', 504],
  ] as const)('answers a %s FerryError with %i and its own message', async (kind, status) => {
    const { app } = appThrowing(new FerryError(kind, `plain words for ${kind}`, { detail: 'svn: E170013: secret-ish detail' }));
    const res = await supertest(app).get('/api/boom');
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: `plain words for ${kind}`, code: kind });
  });

  it('shows an unexpected error only as "internal error" with an id, and logs its stack under that id', async () => {
    const { app, lines } = appThrowing(new TypeError("Cannot read properties of undefined (reading 'hostKey')"));
    const res = await supertest(app).get('/api/boom');
    expect(res.status).toBe(500);
    const id = /^Internal error, see the server log \(error id ([0-9a-f]{8})\)\.$/.exec(res.body.error)?.[1];
    expect(id).toBeDefined();
    expect(JSON.stringify(res.body)).not.toContain('hostKey');
    const entry = lines.map((l) => JSON.parse(l)).find((l) => l.errorId === id);
    expect(entry?.err?.stack).toContain('TypeError');
  });
});

describe('operatorMessage', () => {
  it('keeps a FerryError message and hides anything else behind a logged error id', () => {
    const lines: string[] = [];
    const logger = createLogger({ destination: new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }) });
    expect(operatorMessage(new FerryError('unreachable', 'Cannot reach web1 (127.0.0.1:22): connection refused.'), logger)).toBe('Cannot reach web1 (127.0.0.1:22): connection refused.');
    const shown = operatorMessage(new RangeError('Invalid array length'), logger, { jobId: 7 });
    expect(shown).toMatch(/^Internal error, see the server log \(error id [0-9a-f]{8}\)\.$/);
    expect(shown).not.toContain('array');
    const entry = JSON.parse(lines.at(-1)!);
    expect(entry).toMatchObject({ jobId: 7, msg: 'unexpected error' });
    expect(shown).toContain(entry.errorId);
  });
});
