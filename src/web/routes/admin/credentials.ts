// Credential configuration pages: list, create, edit (secrets kept unless retyped or cleared), delete.
import { Router, type Request, type Response } from 'express';
import type { Services } from '../../../services/context.ts';
import { echoValues, formFailure, idParam, refusal } from '../../forms.ts';
import {
  createCredential, credentialDetail, deleteCredential, listCredentials, newCredentialValues, updateCredential, CREDENTIAL_SECRET_INPUTS,
} from '../../../services/config/credentials.ts';
import { ctxOf, requireRole } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';

export function credentialsRouter(svc: Services) {
  const router = Router();
  const credentialId = (req: Request) => idParam(req.params.id, 'That credential');

  async function renderEdit(res: Response, id: number, status = 200, form?: { values: Record<string, unknown>; errors: Record<string, string> }) {
    const detail = await credentialDetail(svc, id);
    res.status(status).render('pages/admin/credentials/edit', {
      title: `Credential ${detail.credential.name}`, ...detail,
      values: form?.values ?? { name: detail.credential.name, username: detail.credential.username }, errors: form?.errors ?? {},
    });
  }

  // GET /admin/credentials
  router.get('/', async function getCredentials(_req, res) {
    res.render('pages/admin/credentials/index', { title: 'Credentials', credentials: await listCredentials(svc) });
  });

  // GET /admin/credentials/new — a form only administrators can submit
  router.get('/new', requireRole(svc, 'admin'), function getNewCredential(_req, res) {
    res.render('pages/admin/credentials/new', { title: 'New credential', values: newCredentialValues(), errors: {} });
  });

  // POST /admin/credentials
  router.post('/', async function postCredential(req, res) {
    try {
      const c = await createCredential(svc, ctxOf(req), req.body);
      flash(req, 'success', `Credential "${c.name}" created.`);
      res.redirect(`/admin/credentials/${c.id}`);
    } catch (err) {
      const failure = formFailure(err);
      res.status(failure.status).render('pages/admin/credentials/new', {
        title: 'New credential', values: echoValues(req.body, CREDENTIAL_SECRET_INPUTS), errors: failure.fields,
      });
    }
  });

  // GET /admin/credentials/:id
  router.get('/:id', async function getCredential(req, res) {
    await renderEdit(res, credentialId(req));
  });

  // POST /admin/credentials/:id
  router.post('/:id', async function postCredentialUpdate(req, res) {
    const id = credentialId(req);
    try {
      const result = await updateCredential(svc, ctxOf(req), id, req.body);
      flash(req, 'success', result.changed.length ? `Credential "${result.name}" saved (${result.changed.join(', ')}).` : 'Nothing changed.');
      res.redirect(`/admin/credentials/${id}`);
    } catch (err) {
      const failure = formFailure(err);
      await renderEdit(res, id, failure.status, { values: echoValues(req.body, CREDENTIAL_SECRET_INPUTS), errors: failure.fields });
    }
  });

  // POST /admin/credentials/:id/delete
  router.post('/:id/delete', async function postCredentialDelete(req, res) {
    const id = credentialId(req);
    try {
      const { name } = await deleteCredential(svc, ctxOf(req), id);
      flash(req, 'success', `Credential "${name}" deleted.`);
      res.redirect('/admin/credentials');
    } catch (err) {
      flash(req, 'danger', refusal(err).message);
      res.redirect(`/admin/credentials/${id}`);
    }
  });

  return router;
}
