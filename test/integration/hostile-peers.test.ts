// Hosts that misbehave on purpose, against real sshd processes on 127.0.0.1: a relay that writes garbage into the
// forwarded agent socket, and a target whose login shell prints a fake FERRYPID line. Ferry must keep running, fail
// only the hosts concerned with a plain error, and never act on what such a host prints about itself.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HostPlan, PublishRequest } from '../../src/deploy/runner-types.ts';
import { createEngine } from '../../src/deploy/runner.ts';
import { CommandTimeoutError, createSshTransport } from '../../src/deploy/transport/index.ts';
import type { HostTarget, JobEvent } from '../../src/deploy/types.ts';
import { runFile } from '../../src/lib/exec.ts';
import { startSshd, type SshdHandle } from '../kit/sshd.ts';
import { startSvnServer, type SvnServer } from '../kit/svnserve.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const engine = createEngine({ transport: createSshTransport(), runFile, logger: quiet, connectTimeoutMs: 10_000 });

let scratch: string;
let svn: SvnServer;
/** `hostile`'s ssh writes 4 bytes of garbage into $SSH_AUTH_SOCK; `good` is an ordinary relay. */
let hostile: SshdHandle, good: SshdHandle, target: SshdHandle;
/** A target whose "login shell" (ForceCommand) prints FERRYPID:1 before every command. */
let liar: SshdHandle;
let agentAnswerFile: string, refusedKillsLog: string;
let nextJobId = 1;

/** The hostile relay's `ssh`: connects to the forwarded agent, sends a bogus frame, records the answer, fails. */
const HOSTILE_SSH = `#!/bin/sh
node -e '
  const fs = require("fs");
  const sock = require("net").connect(process.env.SSH_AUTH_SOCK, () => sock.write(Buffer.from([0xde, 0xad, 0xbe, 0xef])));
  let answer = Buffer.alloc(0);
  sock.on("data", (d) => (answer = Buffer.concat([answer, d])));
  const done = () => { fs.writeFileSync(process.argv[1], answer.toString("hex") + (sock.destroyed ? " closed" : " open")); process.exit(0); };
  sock.on("close", done);
  sock.on("error", done);
  setTimeout(done, 5000);
' "$FERRY_TEST_ANSWER"
echo "ssh: the agent misbehaved" >&2
exit 255
`;

/**
 * Stands in for a login shell with a chatty profile: it prints FERRYPID:1 to stderr, then runs the command. Any command
 * that would signal process group 1 (every process of this user) is recorded instead of run.
 */
function liarShell(log: string): string {
  return `#!/bin/sh
printf 'FERRYPID:1\\n' >&2
case "$SSH_ORIGINAL_COMMAND" in
  *"-- -1 "*|*"-- -1;"*) printf '%s\\n' "$SSH_ORIGINAL_COMMAND" >> '${log}'; exit 0 ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
`;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'ferry-hostile-test-'));
  agentAnswerFile = join(scratch, 'agent-answer');
  refusedKillsLog = join(scratch, 'refused-kills.log');
  const bin = join(scratch, 'hostile-bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'ssh'), HOSTILE_SSH);
  chmodSync(join(bin, 'ssh'), 0o755);
  const liarPath = join(scratch, 'liar-shell');
  writeFileSync(liarPath, liarShell(refusedKillsLog));
  chmodSync(liarPath, 0o755);

  svn = await startSvnServer();
  await svn.commit({ 'trunk/conf/app.ini': 'level=1\n' }, 'small build');
  [hostile, good, target, liar] = await Promise.all([
    startSshd({ extraConfig: [`SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin FERRY_TEST_ANSWER=${agentAnswerFile}`] }),
    startSshd(),
    startSshd(),
    startSshd({ extraConfig: [`ForceCommand ${liarPath}`] }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([svn?.stop(), hostile?.stop(), good?.stop(), target?.stop(), liar?.stop()]);
  rmSync(scratch, { recursive: true, force: true });
});

/** Errors nobody handled while a test ran: each one would have brought a Ferry server down. */
let uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);
beforeEach(() => {
  uncaught = [];
  process.prependListener('uncaughtException', onUncaught);
  process.prependListener('unhandledRejection', onUncaught);
});
afterEach(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

function relayTarget(server: SshdHandle, name: string): HostTarget {
  return server.target({ name, hostKey: server.hostKey });
}

async function publish(via: HostTarget, relayMode: HostPlan['relayMode']) {
  const events: JobEvent[] = [];
  const req: PublishRequest = {
    jobId: nextJobId++, project: 'hostile', user: 'ops', keepSnapshots: 3, concurrency: 2,
    svn: { url: `${svn.url}/trunk`, username: svn.username, password: svn.password },
    files: ['conf/app.ini'],
    hosts: [{ name: 't1', target: target.target({ name: 't1', hostKey: target.hostKey, jump: via }), deployDir: target.dir, relayMode }],
    hooks: { beforePublish: [], afterPublish: [] },
  };
  await engine.publish(req, (e) => void events.push(e));
  const final = events.filter((e): e is Extract<JobEvent, { type: 'host' }> => e.type === 'host' && e.host === 't1').at(-1);
  const output = events.filter((e) => e.type === 'output' && e.host === 't1').map((e) => (e as { text: string }).text).join('');
  return { final, output };
}

describe('a relay that writes garbage into the forwarded agent', () => {
  it('gets an agent failure and a closed channel; the host fails plainly, Ferry keeps running and a later publish works', async () => {
    const job = await publish(relayTarget(hostile, 'evil'), 'store-forward');
    // Let any error emitted on a later tick surface before judging.
    await new Promise((r) => setTimeout(r, 500));
    expect(uncaught.map(String)).toEqual([]);
    expect(job.final, job.output).toMatchObject({ status: 'failed', phase: 'relay-copy' });
    expect(job.final!.error).toBe('copying the package from relay evil to t1 failed: ssh: the agent misbehaved');
    // The agent answered SSH_AGENT_FAILURE (length 1, type 5) and then closed that channel.
    expect(readFileSync(agentAnswerFile, 'utf8')).toBe('0000000105 closed');

    const later = await publish(relayTarget(good, 'good'), 'store-forward');
    expect(later.final, later.output).toMatchObject({ status: 'succeeded', phase: 'done' });
    expect(readFileSync(join(target.dir, 'conf/app.ini'), 'utf8')).toBe('level=1\n');
    expect(uncaught.map(String)).toEqual([]);
  });
});

describe('a login shell that prints FERRYPID:1', () => {
  it('does not make a timeout signal process group 1; the command\'s own group is stopped instead', async () => {
    const session = await createSshTransport().connect(liar.target({ hostKey: liar.hostKey }));
    try {
      const pidFile = join(scratch, 'sleeper.pid');
      // 4 s: the login shell must have printed its line (and the pid file be written) first, also on a busy machine.
      const started = session.exec(`sleep 4711 & echo $! > '${pidFile}'; wait`, { timeoutMs: 4000 });
      const err = await started.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(CommandTimeoutError);
      expect(existsSync(refusedKillsLog) ? readFileSync(refusedKillsLog, 'utf8') : '').toBe('');
      // The shell's line is its own output, shown as such; it is not mistaken for Ferry's marker.
      expect((err as CommandTimeoutError).stderr).toContain('FERRYPID:1');
      const sleeper = Number(readFileSync(pidFile, 'utf8'));
      expect(sleeper).toBeGreaterThan(1);
      expect(isAlive(sleeper)).toBe(false);
    } finally {
      await session.close();
    }
  });
});

/** Running and not a zombie (in a container, PID 1 may never reap a killed process). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
