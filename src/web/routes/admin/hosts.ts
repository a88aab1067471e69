// Host configuration pages: list, create, edit, delete, clear the pinned key, and "Test connection".
import { Router, type Request, type Response } from 'express';
import type { Services } from '../../../services/context.ts';
import { echoValues, formFailure, idParam, refusal } from '../../../services/config/form.ts';
import {
  clearHostKey, createHost, deleteHost, hostChoices, hostDetail, listHosts, newHostValues, RELAY_MODES, testHost, updateHost,
} from '../../../services/config/hosts.ts';
import { ctxOf, requireRole } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';

const MODULES = ['/static/js/admin-host.js'];

export function hostsRouter(svc: Services) {
  const router = Router();
  const hostId = (req: Request) => idParam(req.params.id, 'That host');

  async function renderNew(res: Response, status: number, values: Record<string, unknown>, errors: Record<string, string>) {
    res.status(status).render('pages/admin/hosts/new', { title: 'New host', values, errors, relayModes: RELAY_MODES, ...(await hostChoices(svc)) });
  }

  async function renderEdit(res: Response, id: number, status = 200, form?: { values: Record<string, unknown>; errors: Record<string, string> }) {
    const detail = await hostDetail(svc, id);
    const { pinnedKey: _pinned, fingerprint: _fp, ...saved } = detail.host;
    res.status(status).render('pages/admin/hosts/edit', {
      title: `Host ${detail.host.name}`, ...detail, relayModes: RELAY_MODES, modules: MODULES,
      values: form?.values ?? { ...saved, hostKey: '' }, errors: form?.errors ?? {},
    });
  }

  // GET /admin/hosts
  router.get('/', async function getHosts(_req, res) {
    res.render('pages/admin/hosts/index', { title: 'Hosts', hosts: await listHosts(svc) });
  });

  // GET /admin/hosts/new — a form only administrators can submit
  router.get('/new', requireRole(svc, 'admin'), async function getNewHost(_req, res) {
    await renderNew(res, 200, newHostValues(), {});
  });

  // POST /admin/hosts
  router.post('/', async function postHost(req, res) {
    try {
      const host = await createHost(svc, ctxOf(req), req.body);
      flash(req, 'success', `Host "${host.name}" created. Use "Test connection" to check the login and pin its host key.`);
      res.redirect(`/admin/hosts/${host.id}`);
    } catch (err) {
      const failure = formFailure(err);
      await renderNew(res, failure.status, echoValues(req.body, []), failure.fields);
    }
  });

  // GET /admin/hosts/:id
  router.get('/:id', async function getHost(req, res) {
    await renderEdit(res, hostId(req));
  });

  // POST /admin/hosts/:id
  router.post('/:id', async function postHostUpdate(req, res) {
    const id = hostId(req);
    try {
      const result = await updateHost(svc, ctxOf(req), id, req.body);
      flash(req, 'success', result.changed.length ? `Host "${result.name}" saved (${result.changed.join(', ')}).` : 'Nothing changed.');
      res.redirect(`/admin/hosts/${id}`);
    } catch (err) {
      const failure = formFailure(err);
      await renderEdit(res, id, failure.status, { values: { id, ...echoValues(req.body, []) }, errors: failure.fields });
    }
  });

  // POST /admin/hosts/:id/delete
  router.post('/:id/delete', async function postHostDelete(req, res) {
    const id = hostId(req);
    try {
      const { name } = await deleteHost(svc, ctxOf(req), id);
      flash(req, 'success', `Host "${name}" deleted.`);
      res.redirect('/admin/hosts');
    } catch (err) {
      flash(req, 'danger', refusal(err).message);
      res.redirect(`/admin/hosts/${id}`);
    }
  });

  // POST /admin/hosts/:id/clear-key
  router.post('/:id/clear-key', async function postClearHostKey(req, res) {
    const id = hostId(req);
    const { name, hadKey } = await clearHostKey(svc, ctxOf(req), id);
    flash(req, hadKey ? 'success' : 'info', hadKey ? `The pinned key of "${name}" was cleared; the next connection pins the key the server presents.` : `"${name}" had no pinned key.`);
    res.redirect(`/admin/hosts/${id}`);
  });

  // POST /admin/hosts/:id/test — JSON for the "Test connection" button
  router.post('/:id/test', async function postTestHost(req, res) {
    res.json(await testHost(svc, ctxOf(req), hostId(req)));
  });

  return router;
}
