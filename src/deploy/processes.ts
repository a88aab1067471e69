// Process control on a target: the user's own start/stop/status commands, run in deployDir,
// with restart = before-restart hooks, stop, start, after-restart hooks.
import { hookLabel, runHookChain, runRemoteScript, type HookResult, type HookSpec } from './hooks.ts';
import { OutputTail } from './output-tail.ts';
import type { RemoteSession } from './types.ts';

export const PROCESS_ACTIONS = ['start', 'stop', 'restart', 'status'] as const;
export type ProcessAction = (typeof PROCESS_ACTIONS)[number];

/** Game servers can take minutes to start or stop cleanly. */
const DEFAULT_PROCESS_TIMEOUT_MS = 10 * 60_000;

export interface ProcessSpec {
  name: string;
  startCmd: string;
  stopCmd: string;
  statusCmd: string;
}

export interface ProcessActionOptions {
  session: RemoteSession;
  deployDir: string;
  action: ProcessAction;
  process: ProcessSpec;
  hooks?: { beforeRestart?: readonly HookSpec[]; afterRestart?: readonly HookSpec[] };
  /** FERRY_* variables; FERRY_PROCESS and FERRY_ACTION are added here. */
  env?: Record<string, string>;
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** Limit for each command and hook. */
  timeoutMs?: number;
}

interface ProcessActionResult {
  exitCode: number;
  ok: boolean;
  output: string;
  /** For `status`: exit code 0 means running. */
  running?: boolean;
  /** What failed, in words, when ok is false. */
  error?: string;
}

/** Runs one action. Never rejects for a failing command; rejects only when the connection is lost. */
export async function runProcessAction(opts: ProcessActionOptions): Promise<ProcessActionResult> {
  const env = { ...opts.env, FERRY_PROCESS: opts.process.name, FERRY_ACTION: opts.action };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROCESS_TIMEOUT_MS;
  const run = (script: string, extraEnv: Record<string, string> = {}, limitMs = timeoutMs) =>
    runRemoteScript(opts.session, { script, cwd: opts.deployDir, env: { ...env, ...extraEnv }, timeoutMs: limitMs, onOutput: opts.onOutput });
  // Each hook keeps its own configured timeout (a player-draining hook may need far longer than a start command).
  const runHooks = (hooks: readonly HookSpec[] | undefined, stage: string) =>
    runHookChain(hooks ?? [], (hook) => run(hook.script, { FERRY_STAGE: stage }, hook.timeoutMs ?? timeoutMs));

  switch (opts.action) {
    case 'start':
      return fromCommand('start', await run(opts.process.startCmd));
    case 'stop':
      return fromCommand('stop', await run(opts.process.stopCmd));
    case 'status': {
      const status = await run(opts.process.statusCmd);
      return { exitCode: status.exitCode, ok: status.ok, output: status.output, running: status.ok, ...(status.timedOut ? { error: 'status command timed out' } : {}) };
    }
    case 'restart':
      return restart(opts, run, runHooks);
  }
}

async function restart(
  opts: ProcessActionOptions,
  run: (script: string) => Promise<HookResult>,
  runHooks: (hooks: readonly HookSpec[] | undefined, stage: string) => Promise<HookResult & { failedHook?: HookSpec }>,
): Promise<ProcessActionResult> {
  // Each step's output is already a bounded tail; together they are bounded again.
  const output = new OutputTail();
  const before = await runHooks(opts.hooks?.beforeRestart, 'before-restart');
  output.push(before.output);
  if (!before.ok) return hookFailure('before-restart', before, output.text());

  // A stop that fails (often: "not running") does not block the start; its output stays in the log.
  const stop = await run(opts.process.stopCmd);
  output.push(stop.output);
  if (!stop.ok) output.push(`\n[stop ${stop.timedOut ? 'timed out' : `exited with code ${stop.exitCode}`}; starting anyway]\n`);

  const start = await run(opts.process.startCmd);
  output.push(start.output);
  if (!start.ok) return { ...fromCommand('start', start), output: output.text() };

  const after = await runHooks(opts.hooks?.afterRestart, 'after-restart');
  output.push(after.output);
  if (!after.ok) return hookFailure('after-restart', after, output.text());
  return { exitCode: 0, ok: true, output: output.text() };
}

function fromCommand(what: string, result: HookResult): ProcessActionResult {
  if (result.ok) return { exitCode: 0, ok: true, output: result.output };
  const error = result.timedOut ? `${what} command timed out` : `${what} command exited with code ${result.exitCode}`;
  return { exitCode: result.exitCode, ok: false, output: result.output, error };
}

function hookFailure(stage: string, result: HookResult & { failedHook?: HookSpec }, output: string): ProcessActionResult {
  const label = result.failedHook ? hookLabel(result.failedHook) : stage;
  const why = result.timedOut ? 'timed out' : `exited with code ${result.exitCode}`;
  return { exitCode: result.exitCode, ok: false, output, error: `${stage} hook "${label}" ${why}` };
}
