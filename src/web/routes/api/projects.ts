// API: projects visible to the caller.
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';
import type { AppDeps } from '../../../app.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { getProjectView, listProjectViews } from '../../../services/projects-view.ts';

export function projectsApi(svc: Services, _deps: AppDeps) {
  const router = Router();

  // GET /api/projects
  router.get('/projects', async function getProjects(req, res) {
    res.json(await listProjectViews(svc, ctxOf(req)));
  });

  // GET /api/projects/:name
  router.get('/projects/:name', async function getProject(req, res) {
    res.json(await getProjectView(svc, ctxOf(req), req.params.name));
  });

  return router;
}
