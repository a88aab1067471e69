// API: what a publish would change on each host, diffs, and drift checks.
import { Router } from 'express';
import type { JobRunner } from '../../../services/jobs/index.ts';
import { ctxOf } from '../../middleware/auth.ts';

/** A query value given repeated (?files=a&files=b) or comma-separated (?files=a,b), as a list. */
function listParam(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const values = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
  if (values.length === 1) return values[0].split(',').map((v) => v.trim()).filter((v) => v !== '');
  return values;
}

export function previewApi(jobs: JobRunner) {
  const router = Router();

  // GET /api/projects/:name/preview?revision=&files=&exclude=&groups=&hosts=
  router.get('/projects/:name/preview', async function getPreview(req, res) {
    const q = req.query;
    res.json(await jobs.preview(ctxOf(req), req.params.name, { files: listParam(q.files) ?? [], exclude: listParam(q.exclude), revision: q.revision, groups: listParam(q.groups), hosts: listParam(q.hosts) }));
  });

  // GET /api/projects/:name/diff?path=&from=&to=   or   ?path=&host= (on the host against what Ferry put there)
  router.get('/projects/:name/diff', async function getDiff(req, res) {
    res.json(await jobs.diff(ctxOf(req), req.params.name, req.query as Record<string, unknown>));
  });

  // POST /api/projects/:name/drift { hosts?, groups? } (none: every host of the project)
  router.post('/projects/:name/drift', async function postDriftCheck(req, res) {
    res.status(201).json(await jobs.startDriftCheck(ctxOf(req), req.params.name, req.body ?? {}));
  });

  return router;
}
