// Bulk import page: upload (or paste) YAML/JSON/CSV -> preview of every change -> apply all or nothing.
import { Router, type RequestHandler } from 'express';
import multer from 'multer';
import type { Services } from '../../../services/context.ts';
import crypto from 'node:crypto';
import { decryptSecret, encryptSecret } from '../../../lib/crypto.ts';
import { FerryError } from '../../../lib/errors.ts';
import { BODY_LIMITS } from '../../../config.ts';
import { applyImport, parseImportFile } from '../../../services/import.ts';
import { ctxOf } from '../../middleware/auth.ts';
import { flash } from '../../middleware/flash.ts';

// Runs after the administrator check. The sealed preview field is the document encrypted and base64-encoded, so
// fields may be larger than the file itself.
const upload = multer({
  storage: multer.memoryStorage(),
  limits: { fileSize: BODY_LIMITS.importBytes, files: 1, fields: 10, fieldSize: 3 * BODY_LIMITS.importBytes },
});
type Format = 'yaml' | 'json' | 'csv' | 'auto';
const FORMATS: Format[] = ['auto', 'yaml', 'json', 'csv'];
/** How long a preview can be applied. */
const PREVIEW_TTL_MS = 30 * 60_000;

interface Sealed {
  userId: number | null;
  expires: number;
  text: string;
  format: Format;
  filename: string;
}

/**
 * The previewed document travels to the browser and back sealed (AES-256-GCM under a key derived for this purpose),
 * so *Apply* submits exactly what was previewed while the page never holds the secrets it contains in clear text.
 * Bound to the user and valid for PREVIEW_TTL_MS.
 */
function previewKey(secretKey: Buffer): Buffer {
  return crypto.createHmac('sha256', secretKey).update('ferry-import-preview').digest();
}

function seal(secretKey: Buffer, value: Sealed): string {
  return encryptSecret(previewKey(secretKey), JSON.stringify(value));
}

function unseal(secretKey: Buffer, sealed: string, userId: number | null): Sealed {
  let value: Sealed;
  try {
    value = JSON.parse(decryptSecret(previewKey(secretKey), sealed)) as Sealed;
  } catch {
    throw new FerryError('invalid', 'This preview cannot be applied (it was damaged, or the server key changed). Upload the file again.');
  }
  if (value.userId !== userId) throw new FerryError('invalid', 'This preview belongs to another user. Upload the file again.');
  if (value.expires < Date.now()) throw new FerryError('invalid', 'This preview is older than 30 minutes. Upload the file again to see what it would change now.');
  return value;
}

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
    const ctx = ctxOf(req);
    const apply = req.body.apply === '1';
    let text: string;
    let filename: string;
    let format: Format;
    try {
      if (apply) {
        ({ text, format, filename } = unseal(svc.secretKey, String(req.body.sealed ?? ''), ctx.actor.id));
      } else {
        text = req.file ? req.file.buffer.toString('utf8') : String(req.body.text ?? '');
        filename = req.file?.originalname ?? String(req.body.filename ?? '');
        format = (FORMATS.includes(req.body.format) ? req.body.format : 'auto') as Format;
      }
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      return render(res, err.status, { error: err.message });
    }
    if (!text.trim()) return render(res, 400, { error: 'Choose a file or paste its content first.', format, filename });
    try {
      const doc = parseImportFile(text, format, filename);
      const plan = await applyImport(svc, ctx, doc, { dryRun: !apply });
      if (apply) {
        flash(req, 'success', 'Import applied.');
        return render(res, 200, { plan, applied: true });
      }
      // The pasted text is not echoed back (it may hold passwords and keys); Apply sends the sealed copy.
      render(res, 200, { plan, sealed: seal(svc.secretKey, { userId: ctx.actor.id, expires: Date.now() + PREVIEW_TTL_MS, text, format, filename }) });
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      render(res, err.status, { error: err.message, fields: err.fields ?? null, format, filename });
    }
  });

  return router;
}
