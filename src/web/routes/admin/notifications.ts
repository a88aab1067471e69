// A project's notification channels on its admin page: add, edit, delete and "Send test". Added to the projects
// router, whose project page lists the channels; admins change, auditors read.
import type { Request, Response, Router } from 'express';
import type { Services } from '../../../services/context.ts';
import {
  CHANNEL_KIND_LABELS, CHANNEL_SECRET_INPUTS, NOTIFY_EVENT_LABELS, createChannel, deleteChannel, getChannel, testChannel, updateChannel,
} from '../../../services/config/notifications.ts';
import { projectDetail } from '../../../services/config/projects.ts';
import { NOTIFY_EVENTS } from '../../../services/notify/events.ts';
import type { SendSettings } from '../../../services/notify/send.ts';
import { echoValues, formErrors, formFailure, idParam } from '../../forms.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';

/** Renders the project page with a failed "add channel" form open. */
export type RenderWithFailedAdd = (res: Response, projectId: number, status: number, values: Record<string, unknown>, errors: Record<string, string>) => Promise<void>;

/** What the channel forms need besides values and errors. */
export const channelChoices = { channelKinds: CHANNEL_KIND_LABELS, notifyEvents: NOTIFY_EVENTS, eventLabels: NOTIFY_EVENT_LABELS };

export function notificationRoutes(router: Router, svc: Services, settings: SendSettings, projectId: (req: Request) => number, renderWithFailedAdd: RenderWithFailedAdd): void {
  const channelId = (req: Request) => idParam(req.params.channelId, 'That notification channel');
  const backTo = (id: number) => `/admin/projects/${id}#notifications`;

  const renderChannel = async (req: Request, res: Response, id: number, cid: number, status: number, form?: { values: Record<string, unknown>; errors: Record<string, string> }) => {
    const channel = await getChannel(svc, id, cid);
    const { project } = await projectDetail(svc, id);
    res.status(status).render('pages/admin/projects/notification', {
      title: req.t('Notification channel {{name}} · {{project}}', { name: channel.name, project: project.name }), project, channel,
      values: form?.values ?? channel, errors: form?.errors ?? {}, ...channelChoices,
    });
  };

  // POST /admin/projects/:id/notifications
  router.post('/:id/notifications', async function postChannelCreate(req, res) {
    const id = projectId(req);
    try {
      const created = await createChannel(svc, ctxOf(req), id, req.body);
      flash(req, 'success', 'Notification channel "{{name}}" added. Use "Send test" to check it.', { name: created.name });
      res.redirect(backTo(id));
    } catch (err) {
      const failure = formFailure(err);
      await renderWithFailedAdd(res, id, failure.status, echoValues(req.body, CHANNEL_SECRET_INPUTS), formErrors(failure, req.t));
    }
  });

  // GET /admin/projects/:id/notifications/:channelId
  router.get('/:id/notifications/:channelId', async function getChannelPage(req, res) {
    await renderChannel(req, res, projectId(req), channelId(req), 200);
  });

  // POST /admin/projects/:id/notifications/:channelId
  router.post('/:id/notifications/:channelId', async function postChannelUpdate(req, res) {
    const id = projectId(req);
    const cid = channelId(req);
    try {
      const result = await updateChannel(svc, ctxOf(req), id, cid, req.body);
      if (result.changed.length) flash(req, 'success', 'Notification channel "{{name}}" saved ({{fields}}).', { name: result.name, fields: result.changed.join(', ') });
      else flash(req, 'success', 'Nothing changed.');
      res.redirect(backTo(id));
    } catch (err) {
      const failure = formFailure(err);
      await renderChannel(req, res, id, cid, failure.status, { values: echoValues(req.body, CHANNEL_SECRET_INPUTS), errors: formErrors(failure, req.t) });
    }
  });

  // POST /admin/projects/:id/notifications/:channelId/delete
  router.post('/:id/notifications/:channelId/delete', async function postChannelDelete(req, res) {
    const id = projectId(req);
    const removed = await deleteChannel(svc, ctxOf(req), id, channelId(req));
    flash(req, 'success', 'Notification channel "{{name}}" deleted.', { name: removed.name });
    res.redirect(backTo(id));
  });

  // POST /admin/projects/:id/notifications/:channelId/test — sends a test message now and shows the outcome
  router.post('/:id/notifications/:channelId/test', async function postChannelTest(req, res) {
    const id = projectId(req);
    const result = await testChannel(svc, ctxOf(req), id, channelId(req), settings);
    flash(req, result.ok ? 'success' : 'danger', result.template, result.params);
    res.redirect(backTo(id));
  });
}
