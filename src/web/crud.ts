// The shape every configuration entity's pages share (credentials, hosts, projects, users): a list, a "new" form only
// administrators can submit, create, an edit page, update and delete, with flash messages and failed forms shown
// again with what was typed (secrets never echoed). A router adds its entity's extra routes after these.
import type { Request, Response, Router } from 'express';
import type { Ctx, Services } from '../services/context.ts';
import { ctxOf, requireRole } from './middleware/auth.ts';
import { flash } from './middleware/flash.ts';
import { echoValues, formFailure, idParam, refusal } from './forms.ts';

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
  /** The entity as a sentence starts with it: "Credential". */
  noun: string;
  /** Title of the list page. */
  listTitle: string;
  /** Form inputs holding secrets: never sent back into a failed form. */
  secretInputs: readonly string[];
  /** Locals of the list page. */
  list(): Promise<Record<string, unknown>>;
  /** Locals of the "new" form besides values and errors (choices for selects). */
  newLocals?(): Promise<Record<string, unknown>> | Record<string, unknown>;
  newValues(): Record<string, unknown>;
  create(ctx: Ctx, body: unknown): Promise<Created>;
  /** The flash message after a create; default `<noun> "<name>" created.` */
  createdMessage?(created: Created): string;
  /** Renders the edit page; `form` is set after a failed update. */
  renderEdit(res: Response, id: number, status: number, form?: FailedForm): Promise<void>;
  update(ctx: Ctx, id: number, body: unknown): Promise<{ name: string; changed: string[] }>;
  remove(ctx: Ctx, id: number): Promise<{ name: string }>;
}

/** Adds GET /, GET /new, POST /, GET /:id, POST /:id and POST /:id/delete to `router`; returns the id parser. */
export function crudRoutes<Created extends { id: number; name: string }>(router: Router, svc: Services, pages: CrudPages<Created>): (req: Request) => number {
  const entityId = (req: Request) => idParam(req.params.id, `That ${pages.noun.toLowerCase()}`);
  const renderNew = async (res: Response, status: number, values: Record<string, unknown>, errors: Record<string, string>) => {
    res.status(status).render(`${pages.views}/new`, { title: `New ${pages.noun.toLowerCase()}`, values, errors, ...(await pages.newLocals?.()) });
  };

  // GET <base>
  router.get('/', async function getList(_req, res) {
    res.render(`${pages.views}/index`, { title: pages.listTitle, ...(await pages.list()) });
  });

  // GET <base>/new — a form only administrators can submit
  router.get('/new', requireRole(svc, 'admin'), async function getNew(_req, res) {
    await renderNew(res, 200, pages.newValues(), {});
  });

  // POST <base>
  router.post('/', async function postCreate(req, res) {
    try {
      const created = await pages.create(ctxOf(req), req.body);
      flash(req, 'success', pages.createdMessage?.(created) ?? `${pages.noun} "${created.name}" created.`);
      res.redirect(`${pages.base}/${created.id}`);
    } catch (err) {
      const failure = formFailure(err);
      await renderNew(res, failure.status, echoValues(req.body, pages.secretInputs), failure.fields);
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
      flash(req, 'success', result.changed.length ? `${pages.noun} "${result.name}" saved (${result.changed.join(', ')}).` : 'Nothing changed.');
      res.redirect(`${pages.base}/${id}`);
    } catch (err) {
      const failure = formFailure(err);
      await pages.renderEdit(res, id, failure.status, { values: { id, ...echoValues(req.body, pages.secretInputs) }, errors: failure.fields });
    }
  });

  // POST <base>/:id/delete
  router.post('/:id/delete', async function postDelete(req, res) {
    const id = entityId(req);
    try {
      const { name } = await pages.remove(ctxOf(req), id);
      flash(req, 'success', `${pages.noun} "${name}" deleted.`);
      res.redirect(pages.base);
    } catch (err) {
      flash(req, 'danger', refusal(err).message);
      res.redirect(`${pages.base}/${id}`);
    }
  });

  return entityId;
}
