// API: SVN browsing, publish, rollback, process control, job status and live job events (SSE).
import { Router, type Request, type Response } from 'express';
import type { Services } from '../../../services/context.ts';
import { jobIdParam, type JobRunner } from '../../../services/jobs/index.ts';
import { svnLog, svnTree } from '../../../services/svn-browse.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { SSE_LIMITS } from '../../../config.ts';
import { fill, tk } from '../../../lib/messages.ts';

const jobIdOf = (req: Request) => jobIdParam(req.params.id);

/** Streams a job as Server-Sent Events: a snapshot first, then live events until it ends. */
export async function streamJobEvents(jobs: JobRunner, req: Request, res: Response, jobId: number) {
  // The close handler is registered before the first await: a client that leaves while the snapshot is read must
  // not leave a subscriber and a ping timer behind. `stop` grows as there is more to undo.
  let gone = false;
  let stop = () => {};
  res.on('close', () => {
    gone = true;
    stop();
  });
  if (req.socket.destroyed) gone = true;
  const ctx = ctxOf(req);
  await jobs.getJob(ctx, jobId); // permission check before anything is streamed
  if (gone) return;
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  // Listen before reading the snapshot so no state change falls between the two. Until the snapshot is sent, host
  // and job events are kept (replaying them is harmless); output is dropped because the flushed snapshot holds it.
  let early: unknown[] | null = [];
  let ended = false;
  let snapshot: Awaited<ReturnType<JobRunner['getJob']>> | null = null;
  const finish = async () => {
    ended = true;
    if (early || gone) return; // the snapshot step sends 'end' itself
    send('end', await jobs.getJob(ctx, jobId).catch(() => snapshot));
    res.end();
  };
  // A browser that stops reading must not make Ferry queue output for it without bound: live output is skipped
  // (and the skip announced) while the socket's backlog is over the limit; a client far behind is cut off and its
  // EventSource reconnects to a fresh snapshot, which holds the stored output tail.
  // The snapshot itself may be large (many hosts' output tails): it is allowed on top of the limits.
  const skippedNote = (missed: number) => {
    const key = tk('[… {{missed}} characters of live output skipped: this browser fell behind; reload for the stored log …]');
    return req.t ? req.t(key, { missed }) : fill(key, { missed });
  };
  const skipped = new Map<string, number>();
  let allowance = 0;
  const live = (e: unknown) => {
    const event = e as { type?: string; host?: string; text?: string };
    const backlog = res.writableLength - allowance;
    if (backlog > SSE_LIMITS.cutOffBytes) return void res.destroy();
    // An upload count is replaced by the next one: a browser that fell behind simply misses some.
    if (event.type === 'progress' && backlog > SSE_LIMITS.backlogBytes) return;
    if (event.type === 'output' && typeof event.text === 'string') {
      const host = event.host ?? '';
      if (backlog > SSE_LIMITS.backlogBytes) return void skipped.set(host, (skipped.get(host) ?? 0) + event.text.length);
      const missed = skipped.get(host);
      if (missed) {
        skipped.delete(host);
        send('progress', { type: 'output', host, text: `${skippedNote(missed)}\n` });
      }
    }
    send('progress', e);
  };
  const unsubscribe = jobs.subscribe(jobId, (e) => {
    if (!early) return live(e);
    if ((e as { type?: string }).type !== 'output') early.push(e);
  }, () => void finish());
  stop = () => unsubscribe?.();
  await jobs.flush(jobId);
  snapshot = await jobs.getJob(ctx, jobId);
  if (gone) return;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  send('snapshot', snapshot);
  allowance = res.writableLength;
  for (const e of early) send('progress', e);
  early = null;
  if (!unsubscribe || ended) {
    unsubscribe?.();
    send('end', await jobs.getJob(ctx, jobId).catch(() => snapshot));
    return void res.end();
  }
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  stop = () => {
    clearInterval(ping);
    unsubscribe();
  };
}

export function jobsApi(svc: Services, jobs: JobRunner) {
  const router = Router();

  // GET /api/projects/:name/tree?path=&rev=[&offset=&limit=&filter=] — with paging: { entries, total, size, offset, limit, filter }
  router.get('/projects/:name/tree', async function getTree(req, res) {
    const { path, rev, offset, limit, filter } = req.query;
    res.json(await svnTree(svc, ctxOf(req), req.params.name, { path, rev, offset, limit, filter }));
  });

  // GET /api/projects/:name/log?limit=&rev=
  router.get('/projects/:name/log', async function getSvnLog(req, res) {
    res.json(await svnLog(svc, ctxOf(req), req.params.name, req.query.limit, req.query.rev));
  });

  // POST /api/projects/:name/publish { files, revision?, hosts?, groups?, note?, waves? }
  // 201 when it runs now; 202 when the project requires approval and it waits as a request (status awaiting_approval).
  router.post('/projects/:name/publish', async function postPublish(req, res) {
    const started = await jobs.startPublish(ctxOf(req), req.params.name, req.body ?? {});
    res.status(started.status === 'awaiting_approval' ? 202 : 201).json(started);
  });

  // POST /api/projects/:name/processes { action, processes?, hosts?, groups?, batchSize?, batchPercent? }
  router.post('/projects/:name/processes', async function postProcessAction(req, res) {
    res.status(201).json(await jobs.startProcessAction(ctxOf(req), req.params.name, req.body ?? {}));
  });

  // GET /api/jobs/:id
  router.get('/jobs/:id', async function getJob(req, res) {
    res.json(await jobs.getJob(ctxOf(req), jobIdOf(req)));
  });

  // GET /api/jobs/:id/rollback-plan — what a rollback of this publish would undo
  router.get('/jobs/:id/rollback-plan', async function getRollbackPlan(req, res) {
    const { hosts, undoes } = await jobs.rollbackPlan(ctxOf(req), jobIdOf(req));
    res.json({ undoes, hosts: hosts.map((h) => ({ host: h.hostName, jobIds: h.jobIds })) });
  });

  // POST /api/jobs/:id/rollback — 201, or 202 when the project's rollbacks need approval
  router.post('/jobs/:id/rollback', async function postRollback(req, res) {
    const started = await jobs.startRollback(ctxOf(req), jobIdOf(req));
    res.status(started.status === 'awaiting_approval' ? 202 : 201).json(started);
  });

  // POST /api/jobs/:id/approve — runs a request now (needs "approve"; not the requester)
  router.post('/jobs/:id/approve', async function postApprove(req, res) {
    res.json(await jobs.approve(ctxOf(req), jobIdOf(req)));
  });

  // POST /api/jobs/:id/reject { reason }
  router.post('/jobs/:id/reject', async function postReject(req, res) {
    res.json(await jobs.reject(ctxOf(req), jobIdOf(req), (req.body ?? {}).reason));
  });

  // POST /api/jobs/:id/cancel — the requester withdraws a request
  router.post('/jobs/:id/cancel', async function postCancel(req, res) {
    res.json(await jobs.cancel(ctxOf(req), jobIdOf(req)));
  });

  // POST /api/jobs/:id/retry { overwriteDrift? } — run the job again on the hosts where it failed
  router.post('/jobs/:id/retry', async function postRetry(req, res) {
    const body = (req.body ?? {}) as { overwriteDrift?: unknown };
    res.status(201).json(await jobs.retry(ctxOf(req), jobIdOf(req), { overwriteDrift: body.overwriteDrift }));
  });

  // POST /api/jobs/:id/continue — a publish in waves: start the next wave, or the waves a stopped job left (continue anyway)
  router.post('/jobs/:id/continue', async function postContinue(req, res) {
    const result = await jobs.continueWaves(ctxOf(req), jobIdOf(req));
    res.status(result.jobId === jobIdOf(req) ? 200 : 201).json(result);
  });

  // POST /api/jobs/:id/stop-waves — a publish in waves waiting between waves ends there (later hosts untouched)
  router.post('/jobs/:id/stop-waves', async function postStopWaves(req, res) {
    res.json(await jobs.stopWaves(ctxOf(req), jobIdOf(req)));
  });

  // GET /api/jobs/:id/events — Server-Sent Events
  router.get('/jobs/:id/events', async function getJobEvents(req, res) {
    await streamJobEvents(jobs, req, res, jobIdOf(req));
  });

  return router;
}
