// Dashboard.
import { Router } from 'express';
import type { Services } from '../../services/context.ts';
import { dashboard } from '../../services/dashboard.ts';
import { ctxOf } from '../middleware/auth.ts';

export function homeRouter(svc: Services) {
  const router = Router();

  // GET /
  router.get('/', async function getDashboard(req, res) {
    const { projects, awaiting } = await dashboard(svc, ctxOf(req));
    res.render('pages/home/dashboard', { title: req.t('Dashboard'), projects, awaiting, modules: ['/static/js/drift.js'] });
  });

  return router;
}
