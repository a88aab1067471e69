// Job pages: the history (server-side DataTable) and one job's live progress, with rollback for publishes.
import { Router, type Request } from 'express';
import type { Services } from '../../services/context.ts';
import { FerryError } from '../../lib/errors.ts';
import {
  JOB_COLUMNS, historyProjects, isSortable, queryJobs, type JobFilter,
} from '../../services/history.ts';
import { ctxOf } from '../middleware/auth.ts';
import { grantOn } from '../../services/permissions.ts';
import { dataTablesRequest, dataTablesResponse, searchFromQuery, sortColumn } from '../datatables.ts';
import {
  JOB_KINDS, JOB_STATUSES, WAVE_STATUS_VIEW, continueOffer, describeWaveSettings, isActiveStatus, jobIdParam, neverRan, requestRights, type JobRunner,
} from '../../services/jobs/index.ts';
import { recordedTranslator } from '../recorded.ts';
import { isDriftRefusal } from '../../deploy/release/drift.ts';

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

export function jobFilterFromQuery(q: Request['query']): JobFilter {
  return {
    project: str(q.project), kind: str(q.kind), status: str(q.status), user: str(q.user), search: searchFromQuery(q),
  };
}

export function jobsPagesRouter(svc: Services, jobs?: JobRunner) {
  const router = Router();

  // GET /jobs?project=&kind=&status=
  router.get('/', async function getHistory(req, res) {
    res.render('pages/jobs/index', {
      title: req.t('History'), filter: jobFilterFromQuery(req.query), projects: await historyProjects(svc, ctxOf(req)),
      kinds: JOB_KINDS, statuses: JOB_STATUSES, modules: ['/static/js/history.js'],
    });
  });

  // GET /jobs/data — DataTables server-side protocol
  router.get('/data', async function getHistoryData(req, res) {
    const page = dataTablesRequest(req.query);
    const column = sortColumn(JOB_COLUMNS, page, 'id');
    const result = await queryJobs(svc, ctxOf(req), jobFilterFromQuery(req.query), {
      offset: page.offset, limit: page.limit, orderBy: isSortable(column) ? column : 'id', dir: page.dir,
    });
    res.json(dataTablesResponse(page, result, result.rows));
  });

  // GET /jobs/:id
  router.get('/:id', async function getJobPage(req, res) {
    const id = jobIdParam(req.params.id);
    if (!jobs) throw new FerryError('unavailable', 'The release engine is not running, so jobs cannot be shown. Tell an administrator.');
    const ctx = ctxOf(req);
    const job = await jobs.getJob(ctx, id);
    const grant = await grantOn(svc, ctx, job.project);
    const row = await svc.db.job.findUniqueOrThrow({ where: { id }, select: { status: true, projectId: true, userId: true, userName: true } });
    const never = neverRan(job.status);
    res.render('pages/jobs/show', {
      title: req.t('Job #{{id}}', { id: job.id }), job, tr: recordedTranslator(req.language), grant, active: isActiveStatus(job.status), neverRan: never, rights: requestRights(ctx, row),
      canRollback: job.kind === 'publish' && grant.rollback && !never,
      // Retrying needs the same grant as the original action.
      canRetry: !never && job.hosts.some((h) => h.status !== 'succeeded') && (job.kind === 'publish' ? grant.publish : job.kind === 'rollback' ? grant.rollback : grant.process),
      // Hosts that refused to overwrite hand edits: the retry can overwrite them, on purpose.
      driftRefused: job.kind === 'publish' ? job.hosts.filter((h) => h.status === 'failed' && isDriftRefusal(h.error)).length : 0,
      // A publish in waves: Continue (between waves) and Continue anyway (after a failed wave) need the publish grant.
      canContinue: Boolean(job.waves) && grant.publish && !never, continueOffer: continueOffer(job),
      waveView: WAVE_STATUS_VIEW, waveSettings: job.waves ? describeWaveSettings(job.waves, req.t, req.language) : '',
      modules: ['/static/js/job.js'],
    });
  });

  return router;
}
