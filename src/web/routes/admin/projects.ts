// Project configuration pages: list, create, edit, delete, "Test SVN", and the project's host groups,
// processes, hooks and notification channels. Admins change, auditors read (writes are refused in the admin router and the services).
import { Router, type Request, type Response } from 'express';
import { crudRoutes } from '../../crud.ts';
import type { Services } from '../../../services/context.ts';
import { echoValues, formErrors, formFailure, idParam } from '../../forms.ts';
import { tk } from '../../../lib/messages.ts';
import { translateError } from '../../../lib/errors.ts';
import {
  createProject, deleteProject, listProjects, newProjectValues, projectDetail, testProjectSvn, updateProject, PROJECT_SECRET_INPUTS,
} from '../../../services/config/projects.ts';
import { HOOK_STAGES, newPartValues, parts, type PartKind } from '../../../services/config/project-parts.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';
import { listChannels, newChannelValues } from '../../../services/config/notifications.ts';
import type { SendSettings } from '../../../services/notify/send.ts';
import { channelChoices, notificationRoutes } from './notifications.ts';

const PART_PATHS: Record<string, PartKind> = { groups: 'group', processes: 'process', hooks: 'hook' };
/** Message keys per kind of part: its name as a heading word, a missing one, and the flash messages. */
const PART_WORDS: Record<PartKind, string> = { group: tk('Host group'), process: tk('Process'), hook: tk('Hook') };
const PART_MISSING: Record<PartKind, string> = { group: tk('That host group'), process: tk('That process'), hook: tk('That hook') };
const PART_FLASH: Record<PartKind, { added: string; saved: string; deleted: string }> = {
  group: { added: tk('Host group "{{name}}" added.'), saved: tk('Host group "{{name}}" saved.'), deleted: tk('Host group "{{name}}" deleted.') },
  process: { added: tk('Process "{{name}}" added.'), saved: tk('Process "{{name}}" saved.'), deleted: tk('Process "{{name}}" deleted.') },
  hook: { added: tk('Hook "{{name}}" added.'), saved: tk('Hook "{{name}}" saved.'), deleted: tk('Hook "{{name}}" deleted.') },
};
const MODULES = ['/static/js/admin-project.js'];

type PartError = { kind: PartKind | 'notification'; values: Record<string, unknown>; errors: Record<string, string> } | null;

export function projectsRouter(svc: Services, sendSettings: SendSettings) {
  const router = Router();

  /** The project page; after a failed save it shows what was typed and the problems. */
  async function renderProjectPage(req: Request, res: Response, id: number, status = 200, opts: { values?: Record<string, unknown>; errors?: Record<string, string>; part?: PartError } = {}) {
    const detail = await projectDetail(svc, id);
    res.status(status).render('pages/admin/projects/edit', {
      title: req.t('Project {{name}}', { name: detail.project.name }), ...detail, hookStages: HOOK_STAGES, newPart: { ...newPartValues, notification: newChannelValues },
      channels: await listChannels(svc, id), ...channelChoices,
      values: opts.values ?? detail.project, errors: opts.errors ?? {}, part: opts.part ?? null, modules: MODULES,
    });
  }

  const projectId = crudRoutes(router, svc, {
    base: '/admin/projects',
    views: 'pages/admin/projects',
    noun: tk('Project'),
    listTitle: tk('Projects'),
    secretInputs: PROJECT_SECRET_INPUTS,
    list: async () => ({ projects: await listProjects(svc) }),
    newValues: newProjectValues,
    create: (ctx, body) => createProject(svc, ctx, body),
    createdMessage: (project) => ({ message: tk('Project "{{name}}" created. Add its host groups, processes and hooks below.'), params: { name: project.name } }),
    update: (ctx, id, body) => updateProject(svc, ctx, id, body),
    remove: (ctx, id) => deleteProject(svc, ctx, id),
    renderEdit: (res, id, status, form) => renderProjectPage(res.req, res, id, status, form ?? {}),
  });

  // POST /admin/projects/:id/test-svn — JSON for the "Test SVN" button
  router.post('/:id/test-svn', async function postTestSvn(req, res) {
    const result = await testProjectSvn(svc, ctxOf(req), projectId(req));
    const message = result.error ? translateError(result.error, req.t) : req.t(result.template, result.params);
    res.json({ ok: result.ok, revision: result.revision, message });
  });

  for (const [path, kind] of Object.entries(PART_PATHS)) {
    const service = parts[kind];
    const partId = (req: Request) => idParam(req.params.partId, PART_MISSING[kind]);
    const backTo = (id: number) => `/admin/projects/${id}#${path}`;
    const choicesOf = async (id: number) => {
      const detail = await projectDetail(svc, id);
      return { project: detail.project, hosts: detail.hosts, groups: detail.groups };
    };
    const renderPart = async (req: Request, res: Response, id: number, pid: number, status: number, values: Record<string, unknown>, errors: Record<string, string>) => {
      const choices = await choicesOf(id);
      res.status(status).render('pages/admin/projects/part', {
        title: `${req.t(PART_WORDS[kind])} ${String(values.name ?? '')} · ${choices.project.name}`,
        kind, path, word: PART_WORDS[kind], partId: pid, values, errors, hookStages: HOOK_STAGES, ...choices,
      });
    };

    // POST /admin/projects/:id/{groups,processes,hooks}
    router.post(`/:id/${path}`, async function postPartCreate(req, res) {
      const id = projectId(req);
      try {
        const created = await service.create(svc, ctxOf(req), id, req.body);
        flash(req, 'success', PART_FLASH[kind].added, { name: created.name });
        res.redirect(backTo(id));
      } catch (err) {
        const failure = formFailure(err);
        await renderProjectPage(req, res, id, failure.status, { part: { kind, values: echoValues(req.body, []), errors: formErrors(failure, req.t) } });
      }
    });

    // GET /admin/projects/:id/{groups,processes,hooks}/:partId
    router.get(`/:id/${path}/:partId`, async function getPart(req, res) {
      const id = projectId(req);
      const pid = partId(req);
      await renderPart(req, res, id, pid, 200, await service.get(svc, id, pid), {});
    });

    // POST /admin/projects/:id/{groups,processes,hooks}/:partId
    router.post(`/:id/${path}/:partId`, async function postPartUpdate(req, res) {
      const id = projectId(req);
      const pid = partId(req);
      try {
        const updated = await service.update(svc, ctxOf(req), id, pid, req.body);
        flash(req, 'success', PART_FLASH[kind].saved, { name: updated.name });
        res.redirect(backTo(id));
      } catch (err) {
        const failure = formFailure(err);
        await renderPart(req, res, id, pid, failure.status, echoValues(req.body, []), formErrors(failure, req.t));
      }
    });

    // POST /admin/projects/:id/{groups,processes,hooks}/:partId/delete
    router.post(`/:id/${path}/:partId/delete`, async function postPartDelete(req, res) {
      const id = projectId(req);
      const removed = await service.remove(svc, ctxOf(req), id, partId(req));
      flash(req, 'success', PART_FLASH[kind].deleted, { name: removed.name });
      res.redirect(backTo(id));
    });
  }

  notificationRoutes(router, svc, sendSettings, projectId, (res, id, status, values, errors) => renderProjectPage(res.req, res, id, status, { part: { kind: 'notification', values, errors } }));

  return router;
}
