// User administration pages: list, create (a generated password is shown once), role/disabled, password
// reset, delete, and the per-project grants of members.
import { Router, type Response } from 'express';
import { ROLES, type Services } from '../../../services/context.ts';
import { crudRoutes } from '../../crud.ts';
import { formFailure, idParam, refusal } from '../../forms.ts';
import {
  createUserAccount, deleteUser, listUsers, newUserValues, resetUserPassword, setGrants, updateUser, userDetail, USER_SECRET_INPUTS,
} from '../../../services/config/users.ts';
import { listTokens, revokeToken } from '../../../services/tokens.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';

type FormState = { form: 'account' | 'password'; values?: Record<string, unknown>; errors: Record<string, string> };

export function usersRouter(svc: Services) {
  const router = Router();

  async function renderEdit(res: Response, id: number, status = 200, state?: FormState) {
    const detail = await userDetail(svc, id);
    res.status(status).render('pages/admin/users/edit', {
      // `user` is the signed-in user in every view, so the account shown here is `account`.
      title: `User ${detail.user.name}`, account: detail.user, grants: detail.grants, roles: ROLES,
      values: state?.form === 'account' && state.values ? state.values : { role: detail.user.role, disabled: detail.user.disabled },
      errors: state?.errors ?? {}, failedForm: state?.form ?? null, tokens: await listTokens(svc, { userId: id }),
    });
  }

  const userId = crudRoutes(router, svc, {
    base: '/admin/users',
    views: 'pages/admin/users',
    noun: 'User',
    listTitle: 'Users',
    secretInputs: USER_SECRET_INPUTS,
    list: async () => ({ users: await listUsers(svc) }),
    newLocals: () => ({ roles: ROLES }),
    newValues: newUserValues,
    create: (ctx, body) => createUserAccount(svc, ctx, body),
    createdMessage: (created) => (created.generated
      ? `User "${created.name}" created. Their password, shown only this once: ${created.password}`
      : `User "${created.name}" created with the password you typed.`),
    update: (ctx, id, body) => updateUser(svc, ctx, id, body),
    remove: (ctx, id) => deleteUser(svc, ctx, id),
    renderEdit: (res, id, status, form) => renderEdit(res, id, status, form && { form: 'account', ...form }),
  });

  // POST /admin/users/:id/password — typed, or generated and shown once
  router.post('/:id/password', async function postUserPassword(req, res) {
    const id = userId(req);
    try {
      const result = await resetUserPassword(svc, ctxOf(req), id, req.body);
      flash(req, 'success', result.generated
        ? `New password for "${result.name}", shown only this once: ${result.password} (their sessions were ended).`
        : `Password of "${result.name}" changed; their sessions were ended.`);
      res.redirect(`/admin/users/${id}`);
    } catch (err) {
      const failure = formFailure(err);
      await renderEdit(res, id, failure.status, { form: 'password', errors: failure.fields });
    }
  });

  // POST /admin/users/:id/grants
  router.post('/:id/grants', async function postUserGrants(req, res) {
    const id = userId(req);
    try {
      const result = await setGrants(svc, ctxOf(req), id, req.body);
      flash(req, 'success', result.changed.length ? `Grants of "${result.name}" saved.` : 'Nothing changed.');
    } catch (err) {
      flash(req, 'danger', refusal(err).message);
    }
    res.redirect(`/admin/users/${id}#grants`);
  });

  // POST /admin/users/:id/tokens/:tokenId/revoke — admins only (the admin router refuses other roles' POSTs)
  router.post('/:id/tokens/:tokenId/revoke', async function postUserTokenRevoke(req, res) {
    const id = userId(req);
    const result = await revokeToken(svc, ctxOf(req), idParam(req.params.tokenId, 'That API token'), id);
    flash(req, 'success', result.alreadyRevoked
      ? `Token #${result.id} of "${result.userName}" was already revoked.`
      : `Token #${result.id} "${result.note}" of "${result.userName}" revoked; it no longer works.`);
    res.redirect(`/admin/users/${id}#tokens`);
  });

  // POST /admin/users/:id/delete
  router.post('/:id/delete', async function postUserDelete(req, res) {
    const id = userId(req);
    try {
      const { name } = await deleteUser(svc, ctxOf(req), id);
      flash(req, 'success', `User "${name}" deleted.`);
      res.redirect('/admin/users');
    } catch (err) {
      flash(req, 'danger', refusal(err).message);
      res.redirect(`/admin/users/${id}`);
    }
  });

  return router;
}
