// Bulk import ("batch add") of credentials, hosts, projects and users from YAML, JSON or a CSV of hosts:
// parse and check the file, preview what would change, then apply all of it in one transaction or nothing.
import { FerryError, conflict } from '../lib/errors.ts';
import { tk } from '../lib/messages.ts';
import type { Ctx, Services } from './context.ts';
import { IdResolver } from './import/ids.ts';
import type { ImportPlan } from './import/plan.ts';
import { buildImport } from './import/plan.ts';
import { parseImportFile, type ImportFormat } from './import/parse.ts';
import type { ImportDocument } from './import/schema.ts';
import { recordOp } from './oplog.ts';
import { assertAdmin } from './permissions.ts';

export { CSV_COLUMNS, parseImportData, parseImportFile, privateKeyFingerprint, type ImportFormat } from './import/parse.ts';
export type { ImportPlan, PlanAction, PlanItem, PlanKind } from './import/plan.ts';
export { HOOK_STAGES, RELAY_MODES } from './import/schema.ts';
export type {
  CredentialEntry, HookEntry, HookStage, HostEntry, ImportDocument, ProcessEntry, ProjectEntry, RelayMode, UserEntry,
} from './import/schema.ts';

const IMPORT_ACTION = 'config.import';

interface ApplyImportOptions {
  /** Only compute the preview; nothing is written (not even the operation log). */
  dryRun?: boolean;
  /** Where the file came from (file name), kept as the operation log target. */
  source?: string;
}

interface ImportResult extends ImportPlan {
  dryRun: boolean;
}

/** The preview: for each entry whether it would be created, updated (which fields) or left unchanged. */
export async function planImport(svc: Pick<Services, 'db' | 'secretKey'>, doc: ImportDocument): Promise<ImportPlan> {
  return (await buildImport(svc.db, svc.secretKey, doc)).plan;
}

/** Admin only. Applies every entry in one transaction (or nothing) and logs the outcome as "config.import". */
export async function applyImport(svc: Services, ctx: Ctx, doc: ImportDocument, opts: ApplyImportOptions = {}): Promise<ImportResult> {
  const target = opts.source ?? '';
  await assertAdmin(svc, ctx, IMPORT_ACTION, target);
  if (opts.dryRun) return { ...(await planImport(svc, doc)), dryRun: true };

  let plan: ImportPlan;
  try {
    const built = await buildImport(svc.db, svc.secretKey, doc);
    plan = built.plan;
    for (const prepare of built.prepare) await prepare();
    if (built.steps.length) {
      await svc.db.$transaction(async (tx) => {
        const ids = new IdResolver(tx);
        const activeAdmins = () => tx.user.count({ where: { role: 'admin', disabled: false } });
        const adminsBefore = await activeAdmins();
        for (const step of built.steps) await step(tx, ids);
        // An import may change roles; it must never lock every administrator out.
        if (adminsBefore > 0 && (await activeAdmins()) === 0) {
          throw new FerryError('invalid', 'The import would leave no active administrator; nothing was imported.', { fields: { users: tk('at least one active admin must remain') } });
        }
      }, { maxWait: 10_000, timeout: 120_000 });
    }
  } catch (err) {
    await recordOp(svc, ctx, { action: IMPORT_ACTION, result: 'failed', target, detail: `nothing imported: ${failureReason(err)}` });
    if (!(err instanceof FerryError)) svc.logger.error({ err: failureReason(err) }, 'import failed');
    throw isUniqueViolation(err)
      ? conflict('The import clashed with a change made at the same time; nothing was imported. Preview and import again.')
      : err;
  }
  await recordOp(svc, ctx, { action: IMPORT_ACTION, result: 'ok', target, detail: plan.summary });
  svc.logger.info({ summary: plan.summary, source: target }, 'import applied');
  return { ...plan, dryRun: false };
}

/**
 * Parse + apply for the upload page, the API and the CLI: a file that does not parse is refused (and, unless a
 * dry run, logged as a failed import) before anything is compared.
 */
export async function importText(
  svc: Services, ctx: Ctx, input: { text: string; format?: ImportFormat; filename?: string; dryRun?: boolean },
): Promise<ImportResult> {
  const source = input.filename ?? '';
  await assertAdmin(svc, ctx, IMPORT_ACTION, source);
  let doc: ImportDocument;
  try {
    doc = parseImportFile(input.text, input.format ?? 'auto', input.filename);
  } catch (err) {
    if (!input.dryRun) await recordOp(svc, ctx, { action: IMPORT_ACTION, result: 'failed', target: source, detail: `nothing imported: ${failureReason(err)}` });
    throw err;
  }
  return applyImport(svc, ctx, doc, { dryRun: input.dryRun, source });
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'P2002';
}

/**
 * A short reason for the log. Prisma messages can quote the whole failing call (ciphertext and hashes included),
 * so only their last line, which names the cause, is kept.
 */
function failureReason(err: unknown): string {
  if (err instanceof FerryError) return err.message;
  const message = err instanceof Error ? err.message : String(err);
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? 'unknown error').slice(0, 500);
}
