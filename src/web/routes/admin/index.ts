// Configuration area: admins change, auditors read. Every write route is admin-only here AND in the services.
import { Router, type RequestHandler } from 'express';
import type { Services } from '../../../services/context.ts';
import type { SendSettings } from '../../../services/notify/send.ts';
import { requireRole } from '../../middleware/auth.ts';
import { projectsRouter } from './projects.ts';
import { hostsRouter } from './hosts.ts';
import { credentialsRouter } from './credentials.ts';
import { usersRouter } from './users.ts';
import { importRouter } from './import.ts';

export function adminRouter(svc: Services, opts: { csrfProtection: RequestHandler; sendSettings: SendSettings }) {
  const router = Router();
  const adminOnly = requireRole(svc, 'admin');
  router.use(requireRole(svc, 'admin', 'auditor'));
  router.use((req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? next() : adminOnly(req, res, next)));
  router.use('/projects', projectsRouter(svc, opts.sendSettings));
  router.use('/hosts', hostsRouter(svc));
  router.use('/credentials', credentialsRouter(svc));
  router.use('/users', usersRouter(svc));
  router.use('/import', adminOnly, importRouter(svc, opts.csrfProtection));
  return router;
}
