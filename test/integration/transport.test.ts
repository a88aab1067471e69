// SSH transport against real sshd processes on 127.0.0.1: auth, jump hosts, host key pinning, exec and upload.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fingerprintOf, normalizeHostKey, sameHostKey } from '../../src/deploy/hostkey.ts';
import { describeConnectError } from '../../src/deploy/transport/connect.ts';
import { CommandTimeoutError, TransportError, createSshTransport } from '../../src/deploy/transport/index.ts';
import type { HostTarget, RemoteSession } from '../../src/deploy/types.ts';
import { shq } from '../../src/deploy/remote.ts';
import { startSshd, startTcpProxy, type SshdHandle } from '../kit/sshd.ts';

const transport = createSshTransport();

async function withSession<T>(target: HostTarget, fn: (session: RemoteSession) => Promise<T>): Promise<T> {
  const session = await transport.connect(target, { connectTimeoutMs: 10_000 });
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

function processRunning(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', pattern], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('hostkey helpers', () => {
  it('fingerprints a key the way ssh-keygen -l does and reads known_hosts lines', async () => {
    const sshd = await startSshd();
    try {
      const keygenLine = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(sshd.rootDir, 'ssh_host_ed25519_key.pub')], { encoding: 'utf8' });
      expect(keygenLine).toContain(fingerprintOf(sshd.hostKey));
      expect(normalizeHostKey(`[127.0.0.1]:${sshd.port},web1 ${sshd.hostKey} root@box`)).toBe(sshd.hostKey);
      expect(sameHostKey(`${sshd.hostKey} comment`, sshd.hostKey)).toBe(true);
      expect(() => normalizeHostKey('ssh-ed25519 not-a-key')).toThrow(/not an SSH public key/);
    } finally {
      await sshd.stop();
    }
  });
});

describe('ssh transport', () => {
  let sshd: SshdHandle;

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('connects with a key and runs a command through the remote shell', async () => {
    await withSession(sshd.target(), async (session) => {
      const result = await session.exec('echo "hello $USER"; echo oops >&2; exit 3');
      expect(result).toEqual({ code: 3, stdout: `hello ${sshd.username}\n`, stderr: 'oops\n' });
    });
  });

  it('turns Nagle off on its TCP socket (with it each login step waited ~40 ms for a delayed ACK)', async () => {
    const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
    try {
      await withSession(sshd.target(), async (session) => {
        expect((await session.exec('echo ok')).stdout).toBe('ok\n');
      });
      expect(noDelay).toHaveBeenCalledWith(true);
    } finally {
      noDelay.mockRestore();
    }
  });

  it('connects with a passphrase-protected key and explains a wrong or missing passphrase', async () => {
    const target = sshd.target({ privateKey: sshd.encryptedClientKey, passphrase: sshd.passphrase });
    await withSession(target, async (session) => {
      expect((await session.exec('echo ok')).stdout).toBe('ok\n');
    });
    await expect(transport.connect({ ...target, passphrase: 'wrong' })).rejects.toThrow(/wrong passphrase for the private key of sshd-/);
    await expect(transport.connect({ ...target, passphrase: undefined })).rejects.toThrow(/encrypted but no passphrase is set/);
  });

  it('reports failed authentication in plain words', async () => {
    const strangerKey = readFileSync(join(sshd.rootDir, 'ssh_host_ed25519_key'), 'utf8');
    const err = await transport.connect(sshd.target({ privateKey: strangerKey })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('auth');
    expect((err as TransportError).message).toMatch(/all configured authentication methods failed/);
    expect((err as TransportError).host).toBe(sshd.target().name);
  });

  it('pins the host key on first connect and refuses a changed key before running anything', async () => {
    const pinned: Array<{ name: string; key: string; fingerprint: string }> = [];
    const first = await transport.connect(sshd.target(), { onNewHostKey: (name, key, fingerprint) => void pinned.push({ name, key, fingerprint }) });
    await first.close();
    expect(pinned).toEqual([{ name: sshd.target().name, key: sshd.hostKey, fingerprint: fingerprintOf(sshd.hostKey) }]);

    // A pinned, matching key connects without asking to pin again.
    const again = await transport.connect(sshd.target({ hostKey: pinned[0].key }), { onNewHostKey: () => void pinned.push({ name: 'x', key: '', fingerprint: '' }) });
    await again.close();
    expect(pinned).toHaveLength(1);

    const oldKey = sshd.hostKey;
    await sshd.restartWithNewHostKey();
    const logStart = sshd.readLog().length;
    const target = sshd.target({ hostKey: oldKey });
    const err = await transport.connect(target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('host-key-changed');
    expect((err as Error).message).toBe(
      `host key changed for ${target.name} (expected ${fingerprintOf(oldKey)}, got ${fingerprintOf(sshd.hostKey)}) — if the server was reinstalled, clear the pinned key in the host settings`,
    );
    // Refused during key exchange: no login, no session, so nothing ran.
    const newLog = sshd.readLog().slice(logStart);
    expect(newLog).toMatch(/Connection from 127\.0\.0\.1/);
    expect(newLog).not.toMatch(/Accepted publickey|Starting session/);
  });

  it('explains an unreachable port and a silent server', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const refused = await transport.connect(sshd.target({ name: 'web-down', port: closedPort })).catch((e: unknown) => e);
    expect((refused as TransportError).message).toBe(`connection refused by web-down (127.0.0.1:${closedPort}) — is sshd running and is the port right?`);
    expect((refused as TransportError).host).toBe('web-down');

    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      const timedOut = await transport.connect(sshd.target({ name: 'web-silent', port: silentPort }), { connectTimeoutMs: 800 }).catch((e: unknown) => e);
      expect((timedOut as TransportError).code).toBe('timeout');
      expect((timedOut as Error).message).toMatch(/^timed out connecting to web-silent \(127\.0\.0\.1:\d+\) after 0\.8s/);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });

  it('maps DNS failures to a plain message', () => {
    const target = sshd.target({ name: 'web-typo', address: 'no-such-host.invalid' });
    const err = describeConnectError(Object.assign(new Error('getaddrinfo ENOTFOUND no-such-host.invalid'), { code: 'ENOTFOUND' }), target, 1000);
    expect(err.code).toBe('dns');
    expect(err.message).toBe('host name "no-such-host.invalid" of web-typo was not found (DNS)');
  });

  it('exports env with shell quoting, feeds stdin and streams output', async () => {
    await withSession(sshd.target(), async (session) => {
      const chunks: string[] = [];
      const tricky = `it's "quoted" $HOME \`x\` 数据 \\ end`;
      const result = await session.exec('printf "%s|%s" "$TRICKY" "$OTHER"; cat', {
        env: { TRICKY: tricky, OTHER: 'two words' },
        stdin: 'from stdin',
        onOutput: (chunk) => chunks.push(chunk),
      });
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`${tricky}|two wordsfrom stdin`);
      expect(chunks.join('')).toBe(result.stdout);

      const piped = await session.exec('wc -c', { stdin: Readable.from([Buffer.alloc(100_000, 1)]) });
      expect(piped.stdout.trim()).toBe('100000');

      await expect(session.exec('true', { env: { 'BAD-NAME': 'x' } })).rejects.toThrow(/invalid environment variable name/);
    });
  });

  it('stops a command at its timeout, killing its whole process group, and reports what it printed', async () => {
    await withSession(sshd.target(), async (session) => {
      const started = Date.now();
      // 4 s: the login shell (this account's .bashrc) must have printed "before" first, also on a busy machine.
      const err = await session.exec('echo before; sleep 313 & sleep 314; echo never', { timeoutMs: 4000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandTimeoutError);
      expect((err as CommandTimeoutError).message).toBe(`command timed out after 4s on ${session.hostName} and was stopped`);
      expect((err as CommandTimeoutError).stdout).toBe('before\n');
      expect(Date.now() - started).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(processRunning('sleep 31[34]')).toBe(false);
      // The session is still usable afterwards.
      expect((await session.exec('echo alive')).stdout).toBe('alive\n');
    });
  });

  it('rejects running commands when the connection drops', async () => {
    const proxy = await startTcpProxy(sshd.port);
    try {
      const session = await transport.connect(sshd.target({ port: proxy.port }));
      const running = session.exec('sleep 30');
      await new Promise((r) => setTimeout(r, 300));
      proxy.dropAll();
      const err = await running.catch((e: unknown) => e);
      expect((err as TransportError).code).toBe('connection-lost');
      await expect(session.exec('true')).rejects.toThrow(/connection to .* was lost/);
      await session.close();
    } finally {
      await proxy.close();
    }
  });

  it('streams 50 MB into a command\'s stdin with modest memory (how a package travels)', async () => {
    const localPath = join(sshd.rootDir, 'big.bin');
    const hash = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(localPath);
      out.on('error', reject);
      for (let i = 0; i < 50; i++) {
        const block = randomBytes(1024 * 1024);
        hash.update(block);
        out.write(block);
      }
      out.end(resolve);
    });
    const remotePath = join(sshd.dir, 'uploaded 文件.bin');
    let peak = 0;
    const baseline = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - baseline)), 20);
    const progress: number[] = [];
    try {
      // How a publish sends its package: a file stream piped into the command's stdin, with backpressure.
      let sent = 0;
      const input = createReadStream(localPath).pipe(new Transform({
        transform(chunk: Buffer, _encoding, done) {
          progress.push((sent += chunk.length));
          done(null, chunk);
        },
      }));
      await withSession(sshd.target(), (session) => session.exec(`umask 027 && cat > ${shq(remotePath)}`, { stdin: input }));
    } finally {
      clearInterval(sampler);
    }
    expect(createHash('sha256').update(readFileSync(remotePath)).digest('hex')).toBe(hash.digest('hex'));
    expect(execFileSync('stat', ['-c', '%a', remotePath], { encoding: 'utf8' }).trim()).toBe('640');
    expect(progress.at(-1)).toBe(50 * 1024 * 1024);
    expect(progress.length).toBeGreaterThan(10);
    expect(peak).toBeLessThan(40 * 1024 * 1024);
  });

  it('streams an empty file into a command\'s stdin', async () => {
    const localPath = join(sshd.rootDir, 'empty');
    writeFileSync(localPath, '');
    const remotePath = join(sshd.dir, 'empty copy');
    await withSession(sshd.target(), (session) => session.exec(`cat > ${shq(remotePath)}`, { stdin: createReadStream(localPath) }));
    expect(readFileSync(remotePath).length).toBe(0);
  });
});

/** What a jump sshd at LogLevel DEBUG1 logs when it opens a direct-tcpip forward for a client. */
const forwardLine = (port: number) => `server_request_direct_tcpip: originator 127.0.0.1 port 0, target 127.0.0.1 port ${port}`;

describe('ssh transport through jump hosts', () => {
  let jump: SshdHandle;
  let jump2: SshdHandle;
  let target: SshdHandle;

  beforeAll(async () => {
    [jump, jump2, target] = await Promise.all([startSshd({ logLevel: 'DEBUG1' }), startSshd({ logLevel: 'DEBUG1' }), startSshd()]);
  });
  afterAll(async () => {
    await Promise.all([jump?.stop(), jump2?.stop(), target?.stop()]);
  });

  it('reaches the target through a jump host (direct-tcpip) and pins both keys', async () => {
    const pinned: string[] = [];
    const via = jump.target({ name: 'bastion' });
    const session = await transport.connect(target.target({ name: 'app1', jump: via }), { onNewHostKey: (name) => void pinned.push(name) });
    try {
      expect((await session.exec('echo through')).stdout).toBe('through\n');
    } finally {
      await session.close();
    }
    expect(pinned).toEqual(["bastion", "app1"]);
    expect(jump.readLog()).toContain(forwardLine(target.port));
  });

  it('goes through a chain of two jump hosts', async () => {
    const chain = jump.target({ name: 'outer', jump: jump2.target({ name: 'inner' }) });
    await withSession(target.target({ name: 'app2', jump: chain }), async (session) => {
      expect((await session.exec('echo deep')).stdout).toBe('deep\n');
    });
    expect(jump2.readLog()).toContain(forwardLine(jump.port));
    expect(jump.readLog()).toContain(forwardLine(target.port));
  });

  it('names the jump host when it fails', async () => {
    const badJump = jump.target({ name: 'bastion', hostKey: target.hostKey });
    const err = await transport.connect(target.target({ name: 'app1', jump: badJump })).catch((e: unknown) => e);
    expect((err as TransportError).host).toBe('bastion');
    expect((err as Error).message).toMatch(/^cannot reach app1 through jump host bastion: host key changed for bastion/);

    const err2 = await transport.connect(target.target({ name: 'app1', port: 1, jump: jump.target({ name: 'bastion' }) })).catch((e: unknown) => e);
    expect((err2 as TransportError).host).toBe('bastion');
    expect((err2 as Error).message).toMatch(/^jump host bastion could not open a connection to app1 \(127\.0\.0\.1:1\): .*refused/i);
  });
});
