// Start-up: config -> database (migrated) -> first admin -> app -> listen; graceful shutdown on SIGTERM/SIGINT.
import type { Server } from 'node:http';
import path from 'node:path';
import { loadConfig, SHUTDOWN_DEADLINE_MS } from './config.ts';
import { createLogger } from './lib/logger.ts';
import { createDb } from './lib/db.ts';
import { applyMigrations } from './lib/migrate.ts';
import { ensureFirstAdmin } from './services/users.ts';
import { createApp } from './app.ts';
import { createEngine } from './deploy/runner.ts';
import { createSshTransport } from './deploy/transport/index.ts';
import { runFile } from './lib/exec.ts';
import { JobRunner } from './services/jobs/index.ts';
import { NotificationWorker } from './services/notify/index.ts';
import { pinHostKey } from './services/targets.ts';
import { recordOp } from './services/oplog.ts';
import { installSafetyNet } from './lib/safety-net.ts';

async function main() {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const { applied } = applyMigrations(config.dbFile, config.migrationsDir, logger);
  logger.info({ dbFile: config.dbFile, migrationsApplied: applied.length, secretKey: config.secretKeySource }, 'database ready');
  if (config.secretKeySource === 'new-file') {
    logger.warn({ keyFile: `${config.dataDir}/secret.key` }, 'created a new secret key file: back it up with the database, secrets cannot be read without it');
  }
  const db = createDb(config.dbFile);
  const svc = { db, logger, secretKey: config.secretKey };

  const admin = await ensureFirstAdmin(svc, config.adminPassword);
  if (admin.created && admin.generated) {
    // Printed once, on the very first start only; it is not stored anywhere in clear text.
    process.stdout.write(`\n  Ferry first start: created user "admin" with password: ${admin.password}\n  Sign in and change it under Configuration > Users.\n\n`);
  } else if (admin.created) {
    logger.info('created user "admin" with the password from FERRY_ADMIN_PASSWORD');
  }

  const engine = createEngine({
    transport: createSshTransport(), runFile, logger, cacheDir: path.join(config.dataDir, 'cache'),
    onNewHostKey: async (hostName, hostKey, fingerprint) => {
      if (await pinHostKey(svc, hostName, hostKey)) {
        await recordOp(svc, { actor: null, ip: '', userName: 'system' }, { action: 'host.pin-key', result: 'ok', target: hostName, detail: `pinned ${fingerprint} on first connect` });
      }
    },
  });
  const jobs = new JobRunner(svc, engine);
  const interrupted = await jobs.markInterrupted();
  jobs.startHousekeeping();
  if (interrupted) logger.warn({ interrupted }, 'jobs left running by the previous run were marked interrupted');

  // Sends queued notifications (including those a previous run left unsent); jobs only queue them.
  const notifier = new NotificationWorker(svc, config);
  notifier.start();
  if (!config.smtp) logger.info('no SMTP server configured (FERRY_SMTP_URL): e-mail notification channels will fail');

  const app = createApp({ config, db, logger, jobs, notifier });
  const server: Server = app.listen(config.port, config.host, () => {
    logger.info({ url: `http://localhost:${config.port}` }, 'Ferry is listening');
    // From here on an error nobody handled (say, from a misbehaving SSH peer) is logged and Ferry keeps serving;
    // before this point it ends start-up with a clear message (main().catch below).
    installSafetyNet(logger, process, { exit: (reason) => shutdown(reason, 1) });
  });
  server.on('error', (err) => {
    // Cannot listen (port taken, no permission): nothing to serve, so stop with the reason. Once listening, a failed
    // accept (e.g. too many open files) is logged and the server goes on.
    if (server.listening) return logger.error({ err }, 'the HTTP server reported an error');
    process.stderr.write(`Ferry could not start: ${err.message}\n`);
    process.exit(1);
  });

  let stopping = false;
  const shutdown = (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    // Closing connections, recording jobs or the database may hang; a stop must not. unref: it never keeps Ferry up.
    setTimeout(() => {
      logger.warn({ reason, deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown took too long: exiting now');
      process.exit(exitCode);
    }, SHUTDOWN_DEADLINE_MS).unref();
    logger.info({ reason }, 'shutting down');
    server.close();
    server.closeAllConnections?.();
    void Promise.resolve(app.locals.close?.()).finally(async () => {
      // Jobs cannot finish without this process: record them as interrupted now (start-up would do it otherwise).
      await jobs.markInterrupted().catch(() => undefined);
      await notifier.stop().catch(() => undefined);
      await db.$disconnect();
      process.exit(exitCode);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  // Configuration and migration problems are operator errors: one clear line, no stack trace noise.
  process.stderr.write(`Ferry could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
