// Bulk import page: upload (or paste) YAML/JSON/CSV -> preview of every change -> apply all or nothing.
import { Router, type RequestHandler } from 'express';
import multer from 'multer';
import type { Services } from '../../../services/context.ts';
import { AppError } from '../../../lib/errors.ts';
import { applyImport, parseImportFile } from '../../../services/import.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';

const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 5 * 1024 * 1024, files: 1 } });
type Format = 'yaml' | 'json' | 'csv' | 'auto';
const FORMATS: Format[] = ['auto', 'yaml', 'json', 'csv'];

export function importRouter(svc: Services, csrfProtection: RequestHandler) {
  const router = Router();
  const render = (res: Parameters<RequestHandler>[1], status: number, locals: Record<string, unknown>) =>
    res.status(status).render('pages/admin/import', { title: 'Bulk import', text: '', format: 'auto', filename: '', plan: null, error: null, fields: null, ...locals });

  // GET /admin/import
  router.get('/', function getImport(_req, res) {
    render(res, 200, {});
  });

  // POST /admin/import — preview (dry run) or apply. Multipart: the CSRF check runs after the upload is parsed.
  router.post('/', upload.single('file'), csrfProtection, async function postImport(req, res) {
    const text = req.file ? req.file.buffer.toString('utf8') : String(req.body.text ?? '');
    const filename = req.file?.originalname ?? String(req.body.filename ?? '');
    const format = (FORMATS.includes(req.body.format) ? req.body.format : 'auto') as Format;
    const apply = req.body.apply === '1';
    if (!text.trim()) return render(res, 400, { error: 'Choose a file or paste its content first.', format, filename });
    try {
      const doc = parseImportFile(text, format, filename);
      const plan = await applyImport(svc, ctxOf(req), doc, { dryRun: !apply });
      if (apply) {
        flash(req, 'success', 'Import applied.');
        return render(res, 200, { plan, applied: true });
      }
      render(res, 200, { plan, text, format, filename });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      render(res, err.status, { error: err.message, fields: err.fields ?? null, text, format, filename });
    }
  });

  return router;
}
