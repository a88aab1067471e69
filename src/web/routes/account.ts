// "My account": any signed-in user sees their API tokens, creates one (shown once) and revokes their own.
import { Router, type Request, type Response } from 'express';
import { API_TOKEN_LIMITS } from '../../config.ts';
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Services } from '../../services/context.ts';
import { recordOp } from '../../services/oplog.ts';
import { echoValues, formErrors, formFailure, idParam } from '../forms.ts';
import { issueToken, listTokens, revokeToken, type NewToken } from '../../services/tokens.ts';
import { ctxOf } from '../middleware/auth.ts';
import { flash } from '../middleware/flash.ts';

export function accountRouter(svc: Services) {
  const router = Router();

  async function renderAccount(req: Request, res: Response, status = 200, state: { newToken?: NewToken; values?: Record<string, unknown>; errors?: Record<string, string> } = {}) {
    const ctx = ctxOf(req);
    res.status(status).render('pages/account/index', {
      title: req.t('My account'), tokens: await listTokens(svc, { userId: ctx.actor.id ?? -1 }), newToken: state.newToken ?? null,
      // Field messages are static English keys: shown in the user's language.
      values: state.values ?? { note: '', expires: '' }, errors: Object.fromEntries(Object.entries(state.errors ?? {}).map(([k, v]) => [k, req.t(v)])), noteMaxLength: API_TOKEN_LIMITS.noteMaxLength,
    });
  }

  // GET /account
  router.get('/', async function getAccount(req, res) {
    await renderAccount(req, res);
  });

  // POST /account/tokens — the new token is rendered in this response only (never stored in the session or a flash)
  router.post('/tokens', async function postAccountToken(req, res) {
    const ctx = ctxOf(req);
    if (req.viaToken) {
      // Otherwise a stolen token could mint successors and outlive its own revocation.
      await recordOp(svc, ctx, { action: 'token.create', result: 'denied', target: ctx.actor.name, detail: 'request authenticated with an API token' });
      throw new FerryError('refused', 'New API tokens can only be created when signed in with your password, not with another token.');
    }
    try {
      const newToken = await issueToken(svc, ctx, ctx.actor.name, req.body ?? {});
      res.set('Cache-Control', 'no-store');
      await renderAccount(req, res, 200, { newToken });
    } catch (err) {
      const failure = formFailure(err);
      await renderAccount(req, res, failure.status, { values: echoValues(req.body, []), errors: formErrors(failure, req.t) });
    }
  });

  // POST /account/tokens/:id/revoke — someone else's token is refused with 403 unless the user is an admin
  router.post('/tokens/:id/revoke', async function postAccountTokenRevoke(req, res) {
    const result = await revokeToken(svc, ctxOf(req), idParam(req.params.id, tk('That API token')));
    if (result.alreadyRevoked) flash(req, 'success', 'Token #{{id}} was already revoked.', { id: result.id });
    else flash(req, 'success', 'Token #{{id}} "{{note}}" revoked; it no longer works.', { id: result.id, note: result.note });
    res.redirect('/account#tokens');
  });

  return router;
}
