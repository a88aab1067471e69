// The one error handler: plain message to the user (JSON under /api), details to the log, never a stack trace.
import type { NextFunction, Request, Response } from 'express';
import { FerryError, internalErrorMessage, newErrorId } from '../../lib/errors.ts';
import { isApi } from './auth.ts';

export function notFoundHandler(req: Request, _res: Response, next: NextFunction) {
  next(new FerryError('not-found', isApi(req) ? 'No such API endpoint.' : 'That page does not exist.'));
}

export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction) {
  let status = 500;
  let message = '';
  let fields: Record<string, string> | undefined;
  if (err instanceof FerryError) {
    ({ status, message, fields } = { status: err.status, message: err.message, fields: err.fields });
  } else if ((err as { code?: string }).code === 'EBADCSRFTOKEN') {
    status = 403;
    message = 'Your form expired or did not come from Ferry. Reload the page and try again.';
  } else if ((err as { type?: string }).type === 'entity.too.large' || (err as { type?: string }).type === 'parameters.too.many' || /^LIMIT_/.test((err as { code?: string }).code ?? '')) {
    status = 413;
    message = 'The request or upload is too large.';
  } else if ((err as { type?: string }).type === 'entity.parse.failed') {
    status = 400;
    message = 'The request body is not valid JSON.';
  } else if (typeof (err as { type?: unknown }).type === 'string' && /^4\d\d$/.test(String((err as { status?: unknown }).status))) {
    // Other body-parser refusals (form fields nested too deep, unsupported charset or encoding).
    status = (err as { status: number }).status;
    message = 'The request body could not be read.';
  }
  if (!message) {
    // Not an error Ferry raised on purpose: the stack goes to the log, the user gets an id to find it there.
    const errorId = newErrorId();
    req.log?.error({ err, errorId }, 'request failed');
    message = internalErrorMessage(errorId);
  } else if (status >= 500) {
    req.log?.error({ err }, 'request failed');
  } else {
    req.log?.info({ status, reason: message }, 'request refused');
  }
  if (res.headersSent) return;
  res.status(status);
  if (isApi(req) || req.accepts(['html', 'json']) === 'json') {
    res.json(fields ? { error: message, fields } : { error: message });
    return;
  }
  res.render('errors/error', { title: status === 404 ? 'Not found' : 'Error', status, message });
}
