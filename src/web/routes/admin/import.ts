// Bulk import page: upload (or paste) YAML/JSON/CSV -> preview of every change -> apply all or nothing.
import { Router, type RequestHandler } from 'express';
import multer from 'multer';
import type { Services } from '../../../services/context.ts';
import { FerryError, translateError } from '../../../lib/errors.ts';
import { BODY_LIMITS } from '../../../config.ts';
import { applyImport, parseImportFile } from '../../../services/import.ts';
import { openPreview, sealPreview, type ImportFileFormat } from '../../../services/import/preview-seal.ts';
import { ImportError, type ProblemMessage } from '../../../services/import/problems.ts';
import { translateFieldMessage } from '../../../services/config/rules.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';

// Runs after the administrator check. The sealed preview field is the document encrypted and base64-encoded, so
// fields may be larger than the file itself.
const upload = multer({
  storage: multer.memoryStorage(),
  limits: { fileSize: BODY_LIMITS.importBytes, files: 1, fields: 10, fieldSize: 3 * BODY_LIMITS.importBytes },
});
const FORMATS: ImportFileFormat[] = ['auto', 'yaml', 'json', 'csv'];

type Translate = (key: string, params?: Record<string, unknown>) => string;

function translated(message: ProblemMessage, t: Translate): string {
  // Problems from the shared field rules carry their numbers in the text ("must be at most 65535").
  if (!message.params) return translateFieldMessage(message.key, t);
  const params: Record<string, unknown> = { ...message.params };
  for (const name of message.keyParams ?? []) if (typeof params[name] === 'string') params[name] = t(params[name]);
  return t(message.key, params);
}

/** What the page shows for a refused import, in the user's language: the message and the problem of each entry. */
function errorLocals(err: FerryError, t: Translate): { error: string; fields: Record<string, string> | null } {
  if (err instanceof ImportError) {
    return {
      error: err.pageMessage ? translated(err.pageMessage, t) : translateError(err, t),
      fields: Object.fromEntries(Object.entries(err.problems).map(([path, problem]) => [path, translated(problem, t)])),
    };
  }
  return { error: translateError(err, t), fields: err.fields ? Object.fromEntries(Object.entries(err.fields).map(([k, v]) => [k, t(v)])) : null };
}
export function importRouter(svc: Services, csrfProtection: RequestHandler) {
  const router = Router();
  const render = (res: Parameters<RequestHandler>[1], status: number, locals: Record<string, unknown>) =>
    res.status(status).render('pages/admin/import', { title: res.locals.t('Bulk import'), text: '', format: 'auto', filename: '', plan: null, error: null, fields: null, ...locals });

  // GET /admin/import
  router.get('/', function getImport(_req, res) {
    render(res, 200, {});
  });

  // POST /admin/import — preview (dry run) or apply. Multipart: the CSRF check runs after the upload is parsed.
  router.post('/', upload.single('file'), csrfProtection, async function postImport(req, res) {
    const ctx = ctxOf(req);
    const apply = req.body.apply === '1';
    let text: string;
    let filename: string;
    let format: ImportFileFormat;
    try {
      if (apply) {
        ({ text, format, filename } = openPreview(svc.secretKey, String(req.body.sealed ?? ''), ctx.actor.id));
      } else {
        text = req.file ? req.file.buffer.toString('utf8') : String(req.body.text ?? '');
        filename = req.file?.originalname ?? String(req.body.filename ?? '');
        format = (FORMATS.includes(req.body.format) ? req.body.format : 'auto') as ImportFileFormat;
      }
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      return render(res, err.status, { error: translateError(err, req.t) });
    }
    if (!text.trim()) return render(res, 400, { error: req.t('Choose a file or paste its content first.'), format, filename });
    try {
      const doc = parseImportFile(text, format, filename);
      const plan = await applyImport(svc, ctx, doc, { dryRun: !apply });
      if (apply) {
        flash(req, 'success', 'Import applied.');
        return render(res, 200, { plan, applied: true });
      }
      // The pasted text is not echoed back (it may hold passwords and keys); Apply sends the sealed copy.
      render(res, 200, { plan, sealed: sealPreview(svc.secretKey, ctx.actor.id, { text, format, filename }) });
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      render(res, err.status, { ...errorLocals(err, req.t), format, filename });
    }
  });

  return router;
}
