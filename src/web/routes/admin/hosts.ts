// Host configuration pages: list, create, edit, delete, clear the pinned key, and "Test connection".
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';
import {
  clearHostKey, createHost, deleteHost, hostChoices, hostDetail, hostTestMessage, listHosts, newHostValues, RELAY_MODES, testHost, updateHost,
} from '../../../services/config/hosts.ts';
import { crudRoutes } from '../../crud.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';
import { tk } from '../../../lib/messages.ts';

const HOST_CREATED = tk('Host "{{name}}" created. Use "Test connection" to check the login and pin its host key.');

const MODULES = ['/static/js/admin-host.js'];

export function hostsRouter(svc: Services) {
  const router = Router();
  const hostId = crudRoutes(router, svc, {
    base: '/admin/hosts',
    views: 'pages/admin/hosts',
    noun: tk('Host'),
    listTitle: tk('Hosts'),
    secretInputs: [],
    list: async () => ({ hosts: await listHosts(svc) }),
    newLocals: async () => ({ relayModes: RELAY_MODES, ...(await hostChoices(svc)) }),
    newValues: newHostValues,
    create: (ctx, body) => createHost(svc, ctx, body),
    createdMessage: (host) => ({ message: HOST_CREATED, params: { name: host.name } }),
    update: (ctx, id, body) => updateHost(svc, ctx, id, body),
    remove: (ctx, id) => deleteHost(svc, ctx, id),
    async renderEdit(res, id, status, form) {
      const detail = await hostDetail(svc, id);
      const { pinnedKey: _pinned, fingerprint: _fp, ...saved } = detail.host;
      res.status(status).render('pages/admin/hosts/edit', {
        title: res.locals.t('Host {{name}}', { name: detail.host.name }), ...detail, relayModes: RELAY_MODES, modules: MODULES,
        values: form?.values ?? { ...saved, hostKey: '' }, errors: form?.errors ?? {},
      });
    },
  });

  // POST /admin/hosts/:id/clear-key
  router.post('/:id/clear-key', async function postClearHostKey(req, res) {
    const id = hostId(req);
    const { name, hadKey } = await clearHostKey(svc, ctxOf(req), id);
    if (hadKey) flash(req, 'success', 'The pinned key of "{{name}}" was cleared; the next connection pins the key the server presents.', { name });
    else flash(req, 'info', '"{{name}}" had no pinned key.', { name });
    res.redirect(`/admin/hosts/${id}`);
  });

  // POST /admin/hosts/:id/test — JSON for the "Test connection" button
  router.post('/:id/test', async function postTestHost(req, res) {
    const { text, ...result } = await testHost(svc, ctxOf(req), hostId(req));
    res.json({ ...result, message: hostTestMessage(text, req.t) });
  });

  return router;
}
