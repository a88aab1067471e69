// User administration pages: list, create (a generated password is shown once), role/disabled, password
// reset, delete, and the per-project grants of members.
import { Router, type Response } from 'express';
import { ROLES, type Services } from '../../../services/context.ts';
import { crudRoutes, type FlashMessage } from '../../crud.ts';
import { formErrors, formFailure, idParam, refusal } from '../../forms.ts';
import {
  createUserAccount, deleteUser, listUsers, newUserValues, resetUserPassword, setGrants, updateUser, userDetail, USER_SECRET_INPUTS,
} from '../../../services/config/users.ts';
import { listTokens, revokeToken } from '../../../services/tokens.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';
import { translateError } from '../../../lib/errors.ts';
import { tk } from '../../../lib/messages.ts';

// crud.ts (this branch) takes the created message as text: filled in English here (see the i18n report).
const CREATED_GENERATED = tk('User "{{name}}" created. Their password, shown only this once: {{password}}');
const CREATED_TYPED = tk('User "{{name}}" created with the password you typed.');

type FormState = { form: 'account' | 'password'; values?: Record<string, unknown>; errors: Record<string, string> };

export function usersRouter(svc: Services) {
  const router = Router();

  async function renderEdit(res: Response, id: number, status = 200, state?: FormState) {
    const detail = await userDetail(svc, id);
    res.status(status).render('pages/admin/users/edit', {
      // `user` is the signed-in user in every view, so the account shown here is `account`.
      title: res.locals.t('User {{name}}', { name: detail.user.name }), account: detail.user, grants: detail.grants, roles: ROLES,
      values: state?.form === 'account' && state.values ? state.values : { role: detail.user.role, disabled: detail.user.disabled },
      errors: state?.errors ?? {}, failedForm: state?.form ?? null, tokens: await listTokens(svc, { userId: id }),
    });
  }

  const userId = crudRoutes(router, svc, {
    base: '/admin/users',
    views: 'pages/admin/users',
    noun: tk('User'),
    listTitle: tk('Users'),
    secretInputs: USER_SECRET_INPUTS,
    list: async () => ({ users: await listUsers(svc) }),
    newLocals: () => ({ roles: ROLES }),
    newValues: newUserValues,
    create: (ctx, body) => createUserAccount(svc, ctx, body),
    createdMessage: (created): FlashMessage => (created.generated
      ? { message: CREATED_GENERATED, params: { name: created.name, password: created.password } }
      : { message: CREATED_TYPED, params: { name: created.name } }),
    update: (ctx, id, body) => updateUser(svc, ctx, id, body),
    remove: (ctx, id) => deleteUser(svc, ctx, id),
    renderEdit: (res, id, status, form) => renderEdit(res, id, status, form && { form: 'account', ...form }),
  });

  // POST /admin/users/:id/password — typed, or generated and shown once
  router.post('/:id/password', async function postUserPassword(req, res) {
    const id = userId(req);
    try {
      const result = await resetUserPassword(svc, ctxOf(req), id, req.body);
      if (result.generated) flash(req, 'success', 'New password for "{{name}}", shown only this once: {{password}} (their sessions were ended).', { name: result.name, password: result.password });
      else flash(req, 'success', 'Password of "{{name}}" changed; their sessions were ended.', { name: result.name });
      res.redirect(`/admin/users/${id}`);
    } catch (err) {
      const failure = formFailure(err);
      await renderEdit(res, id, failure.status, { form: 'password', errors: formErrors(failure, req.t) });
    }
  });

  // POST /admin/users/:id/grants
  router.post('/:id/grants', async function postUserGrants(req, res) {
    const id = userId(req);
    try {
      const result = await setGrants(svc, ctxOf(req), id, req.body);
      if (result.changed.length) flash(req, 'success', 'Grants of "{{name}}" saved.', { name: result.name });
      else flash(req, 'success', 'Nothing changed.');
    } catch (err) {
      flash(req, 'danger', translateError(refusal(err), req.t));
    }
    res.redirect(`/admin/users/${id}#grants`);
  });

  // POST /admin/users/:id/tokens/:tokenId/revoke — admins only (the admin router refuses other roles' POSTs)
  router.post('/:id/tokens/:tokenId/revoke', async function postUserTokenRevoke(req, res) {
    const id = userId(req);
    const result = await revokeToken(svc, ctxOf(req), idParam(req.params.tokenId, tk('That API token')), id);
    if (result.alreadyRevoked) flash(req, 'success', 'Token #{{id}} of "{{user}}" was already revoked.', { id: result.id, user: result.userName });
    else flash(req, 'success', 'Token #{{id}} "{{note}}" of "{{user}}" revoked; it no longer works.', { id: result.id, note: result.note, user: result.userName });
    res.redirect(`/admin/users/${id}#tokens`);
  });

  // POST /admin/users/:id/delete
  router.post('/:id/delete', async function postUserDelete(req, res) {
    const id = userId(req);
    try {
      const { name } = await deleteUser(svc, ctxOf(req), id);
      flash(req, 'success', 'User "{{name}}" deleted.', { name });
      res.redirect('/admin/users');
    } catch (err) {
      flash(req, 'danger', translateError(refusal(err), req.t));
      res.redirect(`/admin/users/${id}`);
    }
  });

  return router;
}
