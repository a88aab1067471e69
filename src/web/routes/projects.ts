// Workflow pages of a project: publish (revision, files, targets) and process control. The API does the work.
import { Router } from 'express';
import type { Services } from '../../services/context.ts';
import type { JobRunner } from '../../services/jobs/index.ts';
import { processesPageData, publishPageData } from '../../services/history.ts';
import { ctxOf } from '../middleware/auth.ts';
import { WAVES } from '../../config.ts';

/** JSON for a <script type="application/json"> block: "<" escaped so no value can close the script element. */
const jsonForScript = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function projectsPagesRouter(svc: Services, jobs?: JobRunner) {
  const router = Router();

  // GET /projects/:name — the project's history is its overview
  router.get('/:name', function getProject(req, res) {
    res.redirect(`/jobs?project=${encodeURIComponent(req.params.name)}`);
  });

  // GET /projects/:name/publish
  router.get('/:name/publish', async function getPublish(req, res) {
    const page = await publishPageData(svc, ctxOf(req), req.params.name);
    res.render('pages/projects/publish', {
      title: req.t('Publish {{name}}', { name: page.project.name }), ...page, engineReady: Boolean(jobs), waveLimits: WAVES,
      pageData: jsonForScript({ project: page.project.name, groups: page.groups, hosts: page.hosts }),
      scripts: ['/vendor/jstree/jstree.min.js'], modules: ['/static/js/publish.js'],
    });
  });

  // GET /projects/:name/processes
  router.get('/:name/processes', async function getProcesses(req, res) {
    const page = await processesPageData(svc, ctxOf(req), req.params.name);
    res.render('pages/projects/processes', {
      title: req.t('Processes of {{project}}', { project: page.project.name }), ...page, engineReady: Boolean(jobs),
      modules: ['/static/js/processes.js'],
    });
  });

  return router;
}
