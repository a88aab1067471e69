// The shape every configuration entity's pages share (credentials, hosts, projects, users): a list, a "new" form only
// administrators can submit, create, an edit page, update and delete, with flash messages and failed forms shown
// again with what was typed (secrets never echoed). A router adds its entity's extra routes after these.
import type { Request, Response, Router } from 'express';
import type { Ctx, Services } from '../services/context.ts';
import { ctxOf, requireRole } from './middleware/auth.ts';
import { flash } from './middleware/flash.ts';
import { echoValues, formErrors, formFailure, idParam, refusalMessage } from './forms.ts';
import { tk, type MessageParams } from '../lib/messages.ts';

/** The nouns and list titles the configuration pages pass (message keys, translated here). */
export const CRUD_WORDS = [
  tk('Credential'), tk('Host'), tk('Project'), tk('User'), tk('Credentials'), tk('Hosts'), tk('Projects'), tk('Users'),
  tk('That credential'), tk('That host'), tk('That project'), tk('That user'),
];

/** A flash message: a message key (static text), or a key with its {{placeholder}} values. */
export type FlashMessage = string | { message: string; params?: MessageParams };

/** A failed edit form: what was typed (secrets removed) and the problem per field. */
export interface FailedForm {
  values: Record<string, unknown>;
  errors: Record<string, string>;
}

export interface CrudPages<Created extends { id: number; name: string }> {
  /** URL of the list, e.g. "/admin/credentials". */
  base: string;
  /** View folder holding index.ejs and new.ejs, e.g. "pages/admin/credentials". */
  views: string;
  /** The entity as a sentence starts with it: "Credential" (a message key; "That credential" names a missing one). */
  noun: string;
  /** Title of the list page (a message key). */
  listTitle: string;
  /** Form inputs holding secrets: never sent back into a failed form. */
  secretInputs: readonly string[];
  /** Locals of the list page. */
  list(): Promise<Record<string, unknown>>;
  /** Locals of the "new" form besides values and errors (choices for selects). */
  newLocals?(): Promise<Record<string, unknown>> | Record<string, unknown>;
  newValues(): Record<string, unknown>;
  create(ctx: Ctx, body: unknown): Promise<Created>;
  /** The flash message after a create (a message key, or a key with params); default `<noun> "<name>" created.` */
  createdMessage?(created: Created): FlashMessage;
  /** Renders the edit page; `form` is set after a failed update. */
  renderEdit(res: Response, id: number, status: number, form?: FailedForm): Promise<void>;
  update(ctx: Ctx, id: number, body: unknown): Promise<{ name: string; changed: string[] }>;
  remove(ctx: Ctx, id: number): Promise<{ name: string }>;
}

/** Adds GET /, GET /new, POST /, GET /:id, POST /:id and POST /:id/delete to `router`; returns the id parser. */
export function crudRoutes<Created extends { id: number; name: string }>(router: Router, svc: Services, pages: CrudPages<Created>): (req: Request) => number {
  const entityId = (req: Request) => idParam(req.params.id, `That ${pages.noun.toLowerCase()}`);
  /** The noun in the request's language, lower case inside an English sentence. */
  const nounOf = (req: Request) => req.t(pages.noun);
  const lowerNounOf = (req: Request) => req.t(pages.noun).toLowerCase();
  const renderNew = async (req: Request, res: Response, status: number, values: Record<string, unknown>, errors: Record<string, string>) => {
    res.status(status).render(`${pages.views}/new`, { title: req.t('New {{noun}}', { noun: lowerNounOf(req) }), values, errors, ...(await pages.newLocals?.()) });
  };

  // GET <base>
  router.get('/', async function getList(req, res) {
    res.render(`${pages.views}/index`, { title: req.t(pages.listTitle), ...(await pages.list()) });
  });

  // GET <base>/new — a form only administrators can submit
  router.get('/new', requireRole(svc, 'admin'), async function getNew(req, res) {
    await renderNew(req, res, 200, pages.newValues(), {});
  });

  // POST <base>
  router.post('/', async function postCreate(req, res) {
    try {
      const created = await pages.create(ctxOf(req), req.body);
      const custom = pages.createdMessage?.(created);
      if (typeof custom === 'string') flash(req, 'success', custom);
      else if (custom) flash(req, 'success', custom.message, custom.params);
      else flash(req, 'success', '{{noun}} "{{name}}" created.', { noun: nounOf(req), name: created.name });
      res.redirect(`${pages.base}/${created.id}`);
    } catch (err) {
      const failure = formFailure(err);
      await renderNew(req, res, failure.status, echoValues(req.body, pages.secretInputs), formErrors(failure, req.t));
    }
  });

  // GET <base>/:id
  router.get('/:id', async function getEdit(req, res) {
    await pages.renderEdit(res, entityId(req), 200);
  });

  // POST <base>/:id
  router.post('/:id', async function postUpdate(req, res) {
    const id = entityId(req);
    try {
      const result = await pages.update(ctxOf(req), id, req.body);
      if (result.changed.length) flash(req, 'success', '{{noun}} "{{name}}" saved ({{fields}}).', { noun: nounOf(req), name: result.name, fields: result.changed.join(', ') });
      else flash(req, 'success', 'Nothing changed.');
      res.redirect(`${pages.base}/${id}`);
    } catch (err) {
      const failure = formFailure(err);
      await pages.renderEdit(res, id, failure.status, { values: { id, ...echoValues(req.body, pages.secretInputs) }, errors: formErrors(failure, req.t) });
    }
  });

  // POST <base>/:id/delete
  router.post('/:id/delete', async function postDelete(req, res) {
    const id = entityId(req);
    try {
      const { name } = await pages.remove(ctxOf(req), id);
      flash(req, 'success', '{{noun}} "{{name}}" deleted.', { noun: nounOf(req), name });
      res.redirect(pages.base);
    } catch (err) {
      flash(req, 'danger', refusalMessage(err, req.t));
      res.redirect(`${pages.base}/${id}`);
    }
  });

  return entityId;
}
