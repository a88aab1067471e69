// Credential configuration pages: list, create, edit (secrets kept unless retyped or cleared), delete.
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';
import {
  createCredential, credentialDetail, deleteCredential, listCredentials, newCredentialValues, updateCredential, CREDENTIAL_SECRET_INPUTS,
} from '../../../services/config/credentials.ts';
import { crudRoutes } from '../../crud.ts';
import { tk } from '../../../lib/messages.ts';

export function credentialsRouter(svc: Services) {
  const router = Router();
  crudRoutes(router, svc, {
    base: '/admin/credentials',
    views: 'pages/admin/credentials',
    noun: tk('Credential'),
    listTitle: tk('Credentials'),
    secretInputs: CREDENTIAL_SECRET_INPUTS,
    list: async () => ({ credentials: await listCredentials(svc) }),
    newValues: newCredentialValues,
    create: (ctx, body) => createCredential(svc, ctx, body),
    update: (ctx, id, body) => updateCredential(svc, ctx, id, body),
    remove: (ctx, id) => deleteCredential(svc, ctx, id),
    async renderEdit(res, id, status, form) {
      const detail = await credentialDetail(svc, id);
      res.status(status).render('pages/admin/credentials/edit', {
        title: res.locals.t('Credential {{name}}', { name: detail.credential.name }), ...detail,
        values: form?.values ?? { name: detail.credential.name, username: detail.credential.username }, errors: form?.errors ?? {},
      });
    },
  });
  return router;
}
