// pino logger. Redaction is a safety net: code never passes secrets to the logger on purpose.
import pino from 'pino';

export type Logger = pino.Logger;

const REDACT_PATHS = [
  'password', '*.password', 'passphrase', '*.passphrase', 'privateKey', '*.privateKey',
  'svnPassword', '*.svnPassword', 'token', '*.token',
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  'req.body.password', 'req.body._csrf',
];

export function createLogger(opts: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    { level: opts.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    opts.destination,
  );
}
