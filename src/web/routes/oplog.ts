// Operation log page (admin, auditor): server-side DataTables JSON and CSV export of the filtered rows.
import { Router, type Request } from 'express';
import { stringify } from 'csv-stringify';
import type { Services } from '../../services/context.ts';
import { OPLOG_COLUMNS, iterateOpLog, opLogFacets, queryOpLog, type OpLogFilter } from '../../services/oplog-query.ts';
import { requireRole } from '../middleware/auth.ts';

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

export function filterFromQuery(q: Request['query']): OpLogFilter {
  const search = q.search as { value?: unknown } | string | undefined;
  return {
    user: str(q.user), project: str(q.project), action: str(q.action), result: str(q.result),
    from: str(q.from), to: str(q.to), jobId: Number(q.jobId) || undefined,
    search: typeof search === 'object' ? str(search?.value) : str(search),
  };
}

export function oplogRouter(svc: Services) {
  const router = Router();
  router.use(requireRole(svc, 'admin', 'auditor'));

  // GET /oplog
  router.get('/', async function getOpLog(req, res) {
    res.render('pages/oplog/index', { title: 'Operation log', facets: await opLogFacets(svc), filter: filterFromQuery(req.query), scripts: ['/static/js/oplog.js'] });
  });

  // GET /oplog/data — DataTables server-side protocol
  router.get('/data', async function getOpLogData(req, res) {
    const order = (req.query.order as { column?: string; dir?: string }[] | undefined)?.[0];
    const col = OPLOG_COLUMNS[Number(order?.column ?? 0)] ?? 'at';
    const { total, filtered, rows } = await queryOpLog(svc, filterFromQuery(req.query), {
      offset: Math.max(0, Number(req.query.start) || 0),
      limit: Math.min(Math.max(1, Number(req.query.length) || 25), 500),
      orderBy: col, dir: order?.dir === 'asc' ? 'asc' : 'desc',
    });
    res.json({
      draw: Number(req.query.draw) || 0, recordsTotal: total, recordsFiltered: filtered,
      data: rows.map((r) => ({ ...r, at: r.at.toISOString() })),
    });
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
