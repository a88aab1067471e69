// The one error handler: plain message to the user (JSON under /api), details to the log, never a stack trace.
import type { NextFunction, Request, Response } from 'express';
import { FerryError, INTERNAL_ERROR, newErrorId, translateError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import { fixedT, requestLocale } from '../i18n.ts';
import { isApi } from './auth.ts';

export function notFoundHandler(req: Request, _res: Response, next: NextFunction) {
  next(new FerryError('not-found', isApi(req) ? tk('No such API endpoint.') : tk('That page does not exist.')));
}

export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction) {
  // Errors can happen before the i18n middleware ran (a body the parser refuses, a token refused): the same choice.
  const t = req.t ?? fixedT(requestLocale(req));
  let status = 500;
  let message = '';
  let code = 'internal';
  let fields: Record<string, string> | undefined;
  if (err instanceof FerryError) {
    ({ status, message, fields, code } = { status: err.status, message: translateError(err, t), fields: err.fields, code: err.kind });
  } else if ((err as { code?: string }).code === 'EBADCSRFTOKEN') {
    [status, code, message] = [403, 'csrf', t('Your form expired or did not come from Ferry. Reload the page and try again.')];
  } else if ((err as { type?: string }).type === 'entity.too.large' || (err as { type?: string }).type === 'parameters.too.many' || /^LIMIT_/.test((err as { code?: string }).code ?? '')) {
    [status, code, message] = [413, 'too-large', t('The request or upload is too large.')];
  } else if ((err as { type?: string }).type === 'entity.parse.failed') {
    [status, code, message] = [400, 'invalid', t('The request body is not valid JSON.')];
  } else if (typeof (err as { type?: unknown }).type === 'string' && /^4\d\d$/.test(String((err as { status?: unknown }).status))) {
    // Other body-parser refusals (form fields nested too deep, unsupported charset or encoding).
    status = (err as { status: number }).status;
    [code, message] = ['invalid', t('The request body could not be read.')];
  }
  if (!message) {
    // Not an error Ferry raised on purpose: the stack goes to the log, the user gets an id to find it there.
    const errorId = newErrorId();
    req.log?.error({ err, errorId }, 'request failed');
    message = t(INTERNAL_ERROR, { errorId });
  } else if (status >= 500) {
    req.log?.error({ err }, 'request failed');
  } else {
    req.log?.info({ status, reason: err instanceof FerryError ? err.message : message }, 'request refused');
  }
  if (res.headersSent) return;
  res.status(status);
  if (fields) fields = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, t(v)]));
  // The API answers in the request's language too (a browser's fetch), with `code` for programs.
  if (isApi(req) || req.accepts(['html', 'json']) === 'json') {
    res.json(fields ? { error: message, code, fields } : { error: message, code });
    return;
  }
  res.render('errors/error', { title: status === 404 ? t('Not found') : t('Error'), status, message });
}
