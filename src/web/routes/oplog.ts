// Operation log page (admin, auditor): server-side DataTables JSON and CSV export of the filtered rows.
import { Router, type Request } from 'express';
import { stringify } from 'csv-stringify';
import type { Services } from '../../services/context.ts';
import { OPLOG_COLUMNS, iterateOpLog, opLogFacets, queryOpLog, type OpLogFilter } from '../../services/oplog-query.ts';
import { requireRole } from '../middleware/auth.ts';
import { dataTablesRequest, dataTablesResponse, searchFromQuery, sortColumn } from '../datatables.ts';
import { safeWholeNumber } from '../../services/paging.ts';

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

export function filterFromQuery(q: Request['query']): OpLogFilter {
  return {
    user: str(q.user), project: str(q.project), action: str(q.action), result: str(q.result),
    from: str(q.from), to: str(q.to), jobId: safeWholeNumber(q.jobId) || undefined, search: searchFromQuery(q),
  };
}

export function oplogRouter(svc: Services) {
  const router = Router();
  router.use(requireRole(svc, 'admin', 'auditor'));

  // GET /oplog
  router.get('/', async function getOpLog(req, res) {
    res.render('pages/oplog/index', { title: req.t('Operation log'), facets: await opLogFacets(svc), filter: filterFromQuery(req.query), modules: ['/static/js/oplog.js'] });
  });

  // GET /oplog/data — DataTables server-side protocol
  router.get('/data', async function getOpLogData(req, res) {
    const page = dataTablesRequest(req.query);
    const result = await queryOpLog(svc, filterFromQuery(req.query), {
      offset: page.offset, limit: page.limit, orderBy: sortColumn(OPLOG_COLUMNS, page, 'at'), dir: page.dir,
    });
    res.json(dataTablesResponse(page, result, result.rows.map((r) => ({ ...r, at: r.at.toISOString() }))));
  });

  // GET /oplog/export.csv
  router.get('/export.csv', async function getOpLogCsv(req, res) {
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="ferry-oplog-${new Date().toISOString().slice(0, 10)}.csv"`);
    // escape_formulas: a user name like =HYPERLINK(...) must stay text when an auditor opens the file in a spreadsheet.
    const csv = stringify({ header: true, columns: ['id', ...OPLOG_COLUMNS, 'jobId'], escape_formulas: true });
    csv.pipe(res);
    for await (const row of iterateOpLog(svc, filterFromQuery(req.query))) {
      if (!csv.write({ ...row, at: row.at.toISOString() })) await new Promise((r) => csv.once('drain', r));
    }
    csv.end();
  });

  return router;
}
