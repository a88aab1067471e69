// The process-level safety net: an error nobody handled is logged and Ferry keeps serving, since one bad connection
// or job must not take every user's session and every running job down with it.
//
// What still exits (code 1, for the service manager to restart Ferry; start-up then marks running jobs interrupted):
// - anything before the server listens (the caller installs the net only once it does): Ferry never got going;
// - a storm of uncaught exceptions (UNCAUGHT_ERRORS_PER_MINUTE_BEFORE_EXIT within a minute): state that breaks that
//   often is not to be trusted, and a restart is the honest way out.
// Unhandled promise rejections never exit: the work they belonged to has already unwound; they are logged as bugs.
import { UNCAUGHT_ERRORS_PER_MINUTE_BEFORE_EXIT } from '../config.ts';

interface SafetyNetLogger {
  error(obj: object, msg?: string): void;
  fatal(obj: object, msg?: string): void;
}

/** The part of `process` the net listens on (a plain EventEmitter in tests). */
interface ProcessEvents {
  on(event: 'uncaughtException' | 'unhandledRejection', listener: (err: unknown) => void): unknown;
  off(event: 'uncaughtException' | 'unhandledRejection', listener: (err: unknown) => void): unknown;
}

interface SafetyNetOptions {
  /** Called once when Ferry must stop after all (default: process.exit(1)). */
  exit?: (reason: string) => void;
  now?: () => number;
  maxPerMinute?: number;
}

/** Installs the handlers; returns a function that removes them. */
export function installSafetyNet(logger: SafetyNetLogger, proc: ProcessEvents = process, opts: SafetyNetOptions = {}): () => void {
  const now = opts.now ?? Date.now;
  const maxPerMinute = opts.maxPerMinute ?? UNCAUGHT_ERRORS_PER_MINUTE_BEFORE_EXIT;
  const exit = opts.exit ?? (() => process.exit(1));
  let recent: number[] = [];
  let exiting = false;

  const onUncaught = (err: unknown) => {
    const at = now();
    recent = recent.filter((t) => at - t < 60_000);
    recent.push(at);
    if (recent.length >= maxPerMinute) {
      logger.fatal({ err }, `uncaught error (${recent.length} within a minute): stopping so the service manager restarts Ferry`);
      if (!exiting) {
        exiting = true;
        exit(`${recent.length} uncaught errors within a minute`);
      }
      return;
    }
    logger.error({ err }, 'uncaught error: logged and ignored, Ferry keeps serving (this is a bug, please report it)');
  };
  const onRejection = (reason: unknown) => {
    logger.error({ err: reason }, 'unhandled promise rejection: logged and ignored (this is a bug, please report it)');
  };
  proc.on('uncaughtException', onUncaught);
  proc.on('unhandledRejection', onRejection);
  return () => {
    proc.off('uncaughtException', onUncaught);
    proc.off('unhandledRejection', onRejection);
  };
}
