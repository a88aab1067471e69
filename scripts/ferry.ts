// Operator CLI: npm run ferry -- <command>. Runs against the same ./data (FERRY_DATA_DIR) as the server.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/lib/logger.ts';
import { createDb } from '../src/lib/db.ts';
import { applyMigrations } from '../src/lib/migrate.ts';
import { FerryError } from '../src/lib/errors.ts';
import { cliActor, ROLES, type Ctx, type Role, type Services } from '../src/services/context.ts';
import { createUser, setPassword } from '../src/services/users.ts';
import { issueToken, listTokens, revokeToken, type TokenRow } from '../src/services/tokens.ts';
import { applyImport, parseImportFile } from '../src/services/import.ts';

const USAGE = `Usage: npm run ferry -- <command>
  import FILE [--dry-run]            import credentials/hosts/projects/users from YAML, JSON or hosts CSV
  user add NAME --role ROLE          create a user (admin|member|auditor); password from stdin or generated
  user reset-password NAME           set a new password (from stdin, or generated and printed)
  token create NAME [--expires 90d] [--note TEXT]
                                     print a new API token for user NAME (use as Authorization: Bearer ...);
                                     --expires takes hours, days or weeks (12h, 30d, 2w); without it the token never expires
  token list [NAME]                  list the API tokens (of user NAME): id, user, note, prefix, dates, status
  token revoke ID                    revoke a token at once (its id is in token list)`;

async function readStdinPassword(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0]?.trim();
  return text || undefined;
}

function printPlan(plan: Awaited<ReturnType<typeof applyImport>>, dryRun: boolean) {
  for (const item of plan.items) {
    if (item.action === 'unchanged') continue;
    process.stdout.write(`  ${item.action.padEnd(7)} ${item.kind.padEnd(10)} ${item.name}${item.changes.length ? `  (${item.changes.join(', ')})` : ''}\n`);
  }
  const count = (a: string) => plan.items.filter((i) => i.action === a).length;
  process.stdout.write(`${dryRun ? 'Dry run, nothing changed: would create' : 'Imported: created'} ${count('create')}, ${dryRun ? 'update' : 'updated'} ${count('update')}, unchanged ${count('unchanged')}.\n`);
}

const fmtDate = (d: Date | null, none = '-') => (d ? d.toISOString().replace('T', ' ').slice(0, 16) : none);

function printTokens(rows: TokenRow[]) {
  if (!rows.length) {
    process.stdout.write('No API tokens.\n');
    return;
  }
  const table = [
    ['ID', 'USER', 'NOTE', 'PREFIX', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS'],
    ...rows.map((r) => [String(r.id), r.userName, r.note, `${r.prefix}…`, fmtDate(r.createdAt), fmtDate(r.expiresAt, 'never'), fmtDate(r.lastUsedAt, 'never'), r.status]),
  ];
  const widths = table[0].map((_, col) => Math.max(...table.map((row) => row[col].length)));
  for (const row of table) process.stdout.write(`${row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]))).join('  ')}\n`);
}

async function run(argv: string[], svc: Services, ctx: Ctx): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      // --label is the older name of --note.
      expires: { type: 'string' }, note: { type: 'string' }, label: { type: 'string' },
    },
  });
  const [cmd, sub, arg] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (cmd === 'import' && sub) {
    const text = fs.readFileSync(sub, 'utf8');
    const doc = parseImportFile(text, 'auto', sub);
    printPlan(await applyImport(svc, ctx, doc, { dryRun: Boolean(values['dry-run']) }), Boolean(values['dry-run']));
    return;
  }
  if (cmd === 'user' && sub === 'add' && arg) {
    const role = values.role as Role;
    if (!ROLES.includes(role)) throw new FerryError('invalid', `--role must be one of ${ROLES.join(', ')}.`);
    const created = await createUser(svc, ctx, { name: arg, role, password: await readStdinPassword() });
    process.stdout.write(created.generated ? `Created ${role} "${arg}" with password: ${created.password}\n` : `Created ${role} "${arg}".\n`);
    return;
  }
  if (cmd === 'user' && sub === 'reset-password' && arg) {
    const result = await setPassword(svc, ctx, arg, await readStdinPassword());
    process.stdout.write(result.generated ? `New password for "${arg}": ${result.password}\n` : `Password of "${arg}" changed.\n`);
    return;
  }
  if (cmd === 'token' && sub === 'create' && arg) {
    let created;
    try {
      created = await issueToken(svc, ctx, arg, { note: values.note ?? values.label ?? 'cli', expires: values.expires ?? '' });
    } catch (err) {
      // The service words its errors for the web form; name the command-line option instead.
      if (err instanceof FerryError && err.fields?.expires) throw new FerryError('invalid', `--expires ${err.fields.expires}.`);
      if (err instanceof FerryError && err.fields?.note) throw new FerryError('invalid', `--note: ${err.fields.note}.`);
      throw err;
    }
    // stdout holds only the token, so TOKEN=$(npm run -s ferry -- token create NAME) works; the rest goes to stderr.
    process.stdout.write(`${created.token}\n`);
    process.stderr.write(`Token #${created.id} "${created.note}" for "${arg}", ${created.expiresAt ? `expires ${fmtDate(created.expiresAt)} UTC` : 'never expires'}. It is shown only this once.\n`);
    return;
  }
  if (cmd === 'token' && sub === 'list') {
    printTokens(await listTokens(svc, arg === undefined ? {} : { userName: arg }));
    return;
  }
  if (cmd === 'token' && sub === 'revoke' && arg) {
    if (!/^\d{1,9}$/.test(arg)) throw new FerryError('invalid', `The token id must be a number, like the ones "token list" shows; "${arg.slice(0, 40)}" is not.`);
    const result = await revokeToken(svc, ctx, Number(arg));
    process.stdout.write(result.alreadyRevoked
      ? `Token #${result.id} of "${result.userName}" was already revoked.\n`
      : `Token #${result.id} "${result.note}" of "${result.userName}" revoked; it no longer works.\n`);
    return;
  }
  throw new FerryError('invalid', `Unknown command.\n${USAGE}`);
}

async function main() {
  const config = loadConfig();
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  applyMigrations(config.dbFile, config.migrationsDir);
  const db = createDb(config.dbFile);
  try {
    await run(process.argv.slice(2), { db, logger, secretKey: config.secretKey }, { actor: cliActor(), ip: 'cli' });
  } finally {
    await db.$disconnect();
  }
}

main().catch((err) => {
  const fields = err instanceof FerryError && err.fields ? Object.entries(err.fields).map(([k, v]) => `\n  ${k}: ${v}`).join('') : '';
  process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}${fields}\n`);
  process.exit(1);
});
