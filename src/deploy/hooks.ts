// Hooks: user-written shell scripts attached to named stages, run on the Ferry server or on a target.
// A hook result never throws for a non-zero exit or a timeout; only a lost connection rejects.
import { DEFAULTS } from '../config.ts';
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { OutputTail } from './output-tail.ts';
import { CommandTimeoutError } from './transport/errors.ts';
import { shq } from './remote.ts';
import type { RemoteSession } from './types.ts';

/** The stages hooks attach to, in the order a publish and a restart pass through them. */
export const HOOK_STAGES = ['before-publish', 'after-publish', 'before-restart', 'after-restart'] as const;
export type HookStage = (typeof HOOK_STAGES)[number];

const DEFAULT_HOOK_TIMEOUT_MS = DEFAULTS.hookTimeoutSec * 1000;
/** Exit code reported for a hook that was stopped at its timeout (as coreutils `timeout` does). */
const TIMEOUT_EXIT_CODE = 124;

export interface HookSpec {
  name?: string;
  script: string;
  timeoutMs?: number;
}

interface HookRunOptions {
  script: string;
  cwd: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

export interface HookResult {
  ok: boolean;
  exitCode: number;
  /** stdout and stderr interleaved as they arrived: the last OUTPUT_TAIL_BYTES, after a line saying what was dropped. */
  output: string;
  timedOut: boolean;
}

/**
 * Runs `/bin/sh -c script` on the Ferry server. The hook gets a small environment (PATH, HOME, LANG plus `env`),
 * not Ferry's own, so server secrets do not leak into user scripts. On timeout its whole process group is killed.
 */
export function runLocalHook(opts: HookRunOptions): Promise<HookResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  const output = new OutputTail();
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', opts.script], {
      cwd: opts.cwd,
      env: { ...baseLocalEnv(), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let timedOut = false;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 2_000).unref();
    }, timeoutMs);

    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8');
      child[stream].on('data', (chunk: string) => {
        output.push(chunk);
        opts.onOutput?.(chunk, stream);
      });
    }
    child.once('error', (err) => {
      clearTimeout(timer);
      output.push(`${err.message}\n`);
      resolve({ ok: false, exitCode: 127, output: output.text(), timedOut: false });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        output.push(`\n[hook timed out after ${Math.round(timeoutMs / 1000)}s and was stopped]\n`);
        return resolve({ ok: false, exitCode: TIMEOUT_EXIT_CODE, output: output.text(), timedOut: true });
      }
      const exitCode = code ?? (signal ? 128 + signalNumber(signal) : 1);
      resolve({ ok: exitCode === 0, exitCode, output: output.text(), timedOut: false });
    });
  });
}

/** Runs a script on the target with cwd and environment; `/bin/sh -c` so the login shell does not matter. */
export async function runRemoteHook(session: RemoteSession, opts: HookRunOptions): Promise<HookResult> {
  return runRemoteScript(session, opts);
}

/** Shared by hooks and process commands: `cd <cwd> && /bin/sh -c <script>` with a timeout turned into a result. */
export async function runRemoteScript(session: RemoteSession, opts: HookRunOptions): Promise<HookResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  const output = new OutputTail();
  const command = `cd -- ${shq(opts.cwd)} && /bin/sh -c ${shq(opts.script)}`;
  try {
    const result = await session.exec(command, {
      env: opts.env,
      timeoutMs,
      // The tail below is all that is kept: the transport holds nothing of its own.
      captureChars: 0,
      onOutput: (chunk, stream) => {
        output.push(chunk);
        opts.onOutput?.(chunk, stream);
      },
    });
    return { ok: result.code === 0, exitCode: result.code, output: output.text(), timedOut: false };
  } catch (err) {
    if (!(err instanceof CommandTimeoutError)) throw err;
    output.push(`\n[timed out after ${Math.round(timeoutMs / 1000)}s and was stopped]\n`);
    return { ok: false, exitCode: TIMEOUT_EXIT_CODE, output: output.text(), timedOut: true };
  }
}

/** Runs hooks one after another and stops at the first failure; the result covers all that ran. */
export async function runHookChain(
  hooks: readonly HookSpec[],
  run: (hook: HookSpec) => Promise<HookResult>,
): Promise<HookResult & { failedHook?: HookSpec }> {
  const output = new OutputTail();
  for (const hook of hooks) {
    const result = await run(hook);
    output.push(result.output);
    if (!result.ok) return { ...result, output: output.text(), failedHook: hook };
  }
  return { ok: true, exitCode: 0, output: output.text(), timedOut: false };
}

/** A short human label for messages: the hook's name, or the first line of its script. */
export function hookLabel(hook: HookSpec): string {
  if (hook.name) return hook.name;
  const firstLine = hook.script.trim().split('\n')[0] ?? '';
  return firstLine.length > 60 ? `${firstLine.slice(0, 57)}...` : firstLine;
}

function baseLocalEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
  for (const name of ['HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 0;
}
