// The diff page: a file between two revisions, or on a host against what Ferry put there, rendered in the browser
// with diff2html (served from node_modules under /vendor/diff2html). The page asks GET /api/projects/:name/diff.
import { Router } from 'express';
import type { Services } from '../../services/context.ts';
import { projectFor } from '../../services/jobs/store.ts';
import { ctxOf } from '../middleware/auth.ts';

const jsonForScript = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');
const text = (value: unknown) => (typeof value === 'string' ? value : '');

export function diffPagesRouter(svc: Services) {
  const router = Router();

  // GET /projects/:name/diff?path=&from=&to=&host=
  router.get('/:name/diff', async function getDiffPage(req, res) {
    const project = await projectFor(svc, ctxOf(req), req.params.name, 'diff.view');
    const query = { path: text(req.query.path), from: text(req.query.from), to: text(req.query.to), host: text(req.query.host) };
    res.render('pages/projects/diff', {
      title: query.path ? req.t('Diff of {{path}}', { path: query.path }) : req.t('Diff of a file'), project: { name: project.name }, query,
      pageData: jsonForScript({ project: project.name, query }),
      scripts: ['/vendor/diff2html/js/diff2html-ui-slim.min.js'], modules: ['/static/js/diff.js'],
    });
  });

  return router;
}
