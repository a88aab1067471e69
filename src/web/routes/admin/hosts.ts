// Host configuration pages: list, create, edit, delete, clear the pinned key, and "Test connection".
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';
import {
  clearHostKey, createHost, deleteHost, hostChoices, hostDetail, listHosts, newHostValues, RELAY_MODES, testHost, updateHost,
} from '../../../services/config/hosts.ts';
import { crudRoutes } from '../../crud.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';

const MODULES = ['/static/js/admin-host.js'];

export function hostsRouter(svc: Services) {
  const router = Router();
  const hostId = crudRoutes(router, svc, {
    base: '/admin/hosts',
    views: 'pages/admin/hosts',
    noun: 'Host',
    listTitle: 'Hosts',
    secretInputs: [],
    list: async () => ({ hosts: await listHosts(svc) }),
    newLocals: async () => ({ relayModes: RELAY_MODES, ...(await hostChoices(svc)) }),
    newValues: newHostValues,
    create: (ctx, body) => createHost(svc, ctx, body),
    createdMessage: (host) => `Host "${host.name}" created. Use "Test connection" to check the login and pin its host key.`,
    update: (ctx, id, body) => updateHost(svc, ctx, id, body),
    remove: (ctx, id) => deleteHost(svc, ctx, id),
    async renderEdit(res, id, status, form) {
      const detail = await hostDetail(svc, id);
      const { pinnedKey: _pinned, fingerprint: _fp, ...saved } = detail.host;
      res.status(status).render('pages/admin/hosts/edit', {
        title: `Host ${detail.host.name}`, ...detail, relayModes: RELAY_MODES, modules: MODULES,
        values: form?.values ?? { ...saved, hostKey: '' }, errors: form?.errors ?? {},
      });
    },
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
