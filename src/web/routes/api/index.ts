// JSON API: session (with x-csrf-token) or Authorization: Bearer <token>. Errors are { error: "plain message" }.
import { Router } from 'express';
import type { Services } from '../../../services/context.ts';
import type { AppDeps } from '../../../app.ts';
import { requireLogin, requireRole, ctxOf } from '../../middleware/auth.ts';
import { queryOpLog, OPLOG_COLUMNS, type OpLogColumn } from '../../../services/oplog-query.ts';
import { filterFromQuery } from '../oplog.ts';
import { applyImport, parseImportData, parseImportFile } from '../../../services/import.ts';
import { badRequest } from '../../../lib/errors.ts';
import { BODY_LIMITS, PAGING } from '../../../config.ts';
import { jsonBody } from '../../middleware/body.ts';
import { clampPage } from '../../../services/paging.ts';
import { projectsApi } from './projects.ts';
import { jobsApi } from './jobs.ts';
import { previewApi } from './preview.ts';

export function apiRouter(svc: Services, deps: AppDeps) {
  const router = Router();
  router.use(requireLogin);

  router.use(projectsApi(svc, deps));
  if (deps.jobs) router.use(jobsApi(svc, deps.jobs));
  if (deps.jobs) router.use(previewApi(deps.jobs));

  // GET /api/logs?user=&project=&action=&result=&from=&to=&search=&offset=&limit=&sort=&dir=
  router.get('/logs', requireRole(svc, 'admin', 'auditor'), async function getLogs(req, res) {
    const sort = OPLOG_COLUMNS.includes(req.query.sort as OpLogColumn) ? (req.query.sort as OpLogColumn) : 'at';
    const { offset, limit } = clampPage(req.query.offset, req.query.limit, PAGING.maxApiLength, 50);
    const { total, filtered, rows } = await queryOpLog(svc, filterFromQuery(req.query), { offset, limit, orderBy: sort, dir: req.query.dir === 'asc' ? 'asc' : 'desc' });
    res.json({ total, filtered, offset, limit, rows });
  });

  // POST /api/import?dryRun=1  body: { format?: "yaml"|"json"|"csv", content: "..." } or the document itself as JSON
  // The large body limit applies here only, and only after the administrator check (the global parser skips this route).
  router.post('/import', requireRole(svc, 'admin'), jsonBody(BODY_LIMITS.importBytes), async function postImport(req, res) {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') throw badRequest('Send the import document as JSON, or { "format": "yaml", "content": "..." }.');
    const doc = typeof body.content === 'string'
      ? parseImportFile(body.content, (body.format as 'yaml' | 'json' | 'csv' | undefined) ?? 'auto')
      : parseImportData(body);
    const dryRun = req.query.dryRun === '1' || req.query.dryRun === 'true';
    const plan = await applyImport(svc, ctxOf(req), doc, { dryRun });
    res.status(dryRun ? 200 : 201).json({ dryRun, plan });
  });

  return router;
}
