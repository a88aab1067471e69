// Process control over real SSH: a small start/stop/status script that runs a background sleep with a pid file.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runLocalHook } from '../../src/deploy/hooks.ts';
import { runProcessAction, type ProcessAction, type ProcessActionOptions } from '../../src/deploy/processes.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import type { RemoteSession } from '../../src/deploy/types.ts';
import { startSshd, type SshdHandle } from '../kit/sshd.ts';

// A distinctive sleep length so the test can tell its own process apart.
const APP_SCRIPT = `#!/bin/sh
# Minimal service: a background sleep with a pid file, like many real start scripts.
cd "$(dirname "$0")/.." || exit 1
pidfile=run/app.pid
alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
echo "$1 $FERRY_PROCESS" >> events.log
case "$1" in
  start)
    if alive; then echo "already running"; exit 0; fi
    mkdir -p run
    nohup sleep 4321 >/dev/null 2>&1 &
    echo $! > "$pidfile"
    echo "started $!"
    ;;
  stop)
    if alive; then kill "$(cat "$pidfile")"; rm -f "$pidfile"; echo stopped; else echo "not running" >&2; exit 1; fi
    ;;
  status)
    if alive; then echo "running $(cat "$pidfile")"; else echo "not running"; exit 3; fi
    ;;
esac
`;

let sshd: SshdHandle;
let session: RemoteSession;
let deployDir: string;

beforeAll(async () => {
  sshd = await startSshd();
  session = await createSshTransport().connect(sshd.target());
  deployDir = join(sshd.dir, 'service 服务');
  mkdirSync(join(deployDir, 'bin'), { recursive: true });
  writeFileSync(join(deployDir, 'bin', 'app.sh'), APP_SCRIPT);
  chmodSync(join(deployDir, 'bin', 'app.sh'), 0o755);
});
afterAll(async () => {
  const pidfile = join(deployDir, 'run', 'app.pid');
  if (existsSync(pidfile)) {
    try {
      process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGTERM');
    } catch {
      // Already stopped.
    }
  }
  await session?.close();
  await sshd?.stop();
});

const appProcess = { name: 'web app', startCmd: 'bin/app.sh start', stopCmd: 'bin/app.sh stop', statusCmd: 'bin/app.sh status' };

function act(action: ProcessAction, extra: Partial<ProcessActionOptions> = {}) {
  return runProcessAction({ session, deployDir, action, process: appProcess, timeoutMs: 10_000, ...extra });
}

function pidOnTarget(): number | null {
  const pidfile = join(deployDir, 'run', 'app.pid');
  return existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : null;
}

/** Running and not a zombie (in a container, PID 1 may never reap the killed sleep). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('runProcessAction', () => {
  it('reports status, starts, stops, and restarts with hooks around it', async () => {
    rmSync(join(deployDir, 'events.log'), { force: true }); // this test reads back its own calls only, whatever ran before
    expect(await act('status')).toEqual({ exitCode: 3, ok: false, running: false, output: 'not running\n' });

    const started = await act('start');
    expect(started).toMatchObject({ exitCode: 0, ok: true });
    const firstPid = pidOnTarget();
    expect(firstPid).not.toBeNull();
    expect(started.output).toBe(`started ${firstPid}\n`);
    expect(isAlive(firstPid!)).toBe(true);

    expect(await act('status')).toEqual({ exitCode: 0, ok: true, running: true, output: `running ${firstPid}\n` });

    const chunks: string[] = [];
    const restarted = await act('restart', {
      env: { FERRY_JOB_ID: '7' },
      onOutput: (chunk) => chunks.push(chunk),
      hooks: {
        beforeRestart: [{ script: 'echo "before $FERRY_STAGE $FERRY_PROCESS $FERRY_JOB_ID" >> events.log' }],
        afterRestart: [{ script: 'echo "after $FERRY_STAGE" >> events.log; echo hook-said-hi' }],
      },
    });
    expect(restarted).toMatchObject({ exitCode: 0, ok: true });
    const secondPid = pidOnTarget();
    expect(secondPid).not.toBe(firstPid);
    // A killed process takes a moment to go (more on a busy machine).
    await vi.waitFor(() => expect(isAlive(firstPid!)).toBe(false), { timeout: 5_000 });
    expect(isAlive(secondPid!)).toBe(true);
    expect(restarted.output).toContain('stopped\n');
    expect(restarted.output).toContain(`started ${secondPid}\n`);
    expect(chunks.join('')).toContain('hook-said-hi');
    expect(readFileSync(join(deployDir, 'events.log'), 'utf8')).toBe(
      ['status web app', 'start web app', 'status web app', 'before before-restart web app 7', 'stop web app', 'start web app', 'after after-restart', ''].join('\n'),
    );

    expect(await act('stop')).toMatchObject({ exitCode: 0, ok: true, output: 'stopped\n' });
    await vi.waitFor(() => expect(isAlive(secondPid!)).toBe(false), { timeout: 5_000 });
    expect(await act('stop')).toEqual({ exitCode: 1, ok: false, output: 'not running\n', error: 'stop command exited with code 1' });
  });

  it('restart starts even when stop fails, but a failing before-restart hook stops everything', async () => {
    const fromStopped = await act('restart');
    expect(fromStopped.ok).toBe(true);
    expect(fromStopped.output).toContain('[stop exited with code 1; starting anyway]');
    const pid = pidOnTarget()!;
    expect(isAlive(pid)).toBe(true);

    const blocked = await act('restart', { hooks: { beforeRestart: [{ name: 'drain', script: 'echo draining; exit 4' }] } });
    expect(blocked).toEqual({ exitCode: 4, ok: false, output: 'draining\n', error: 'before-restart hook "drain" exited with code 4' });
    expect(pidOnTarget()).toBe(pid);
    expect(isAlive(pid)).toBe(true);

    const afterFails = await act('restart', { hooks: { afterRestart: [{ name: 'smoke test', script: 'exit 9' }] } });
    expect(afterFails).toMatchObject({ exitCode: 9, ok: false, error: 'after-restart hook "smoke test" exited with code 9' });
    expect(isAlive(pidOnTarget()!)).toBe(true);
    expect((await act('stop')).ok).toBe(true);
  });

  it('stops a command that runs past the timeout and reports exit code 124', async () => {
    const started = Date.now();
    const result = await runProcessAction({
      session,
      deployDir,
      action: 'status',
      process: { ...appProcess, statusCmd: 'echo checking; sleep 30' },
      timeoutMs: 2_000, // long enough for "checking" to arrive on a busy machine
    });
    expect(result).toMatchObject({ exitCode: 124, ok: false, running: false, error: 'status command timed out' });
    expect(result.output).toContain('checking');
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});

describe('runLocalHook', () => {
  it('runs a script with cwd and a small environment, and reports its exit code', async () => {
    process.env.FERRY_TEST_SECRET = 'do not leak';
    try {
      const result = await runLocalHook({ script: 'pwd; echo "$GREETING|${FERRY_TEST_SECRET:-none}"; exit 2', cwd: sshd.rootDir, env: { GREETING: "hi 'there'" } });
      expect(result).toEqual({ ok: false, exitCode: 2, timedOut: false, output: `${sshd.rootDir}\nhi 'there'|none\n` });
    } finally {
      delete process.env.FERRY_TEST_SECRET;
    }
  });

  it('kills the whole hook at its timeout', async () => {
    const marker = join(sshd.rootDir, 'late-marker');
    const result = await runLocalHook({ script: `sleep 2 && touch '${marker}' & sleep 30`, cwd: sshd.rootDir, timeoutMs: 300 });
    expect(result).toMatchObject({ ok: false, exitCode: 124, timedOut: true });
    await new Promise((r) => setTimeout(r, 2_500));
    expect(existsSync(marker)).toBe(false);
  });
});
