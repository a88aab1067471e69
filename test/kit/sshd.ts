// Starts a real OpenSSH server on 127.0.0.1 for integration tests: its own host key, client keys and temp dirs.
// The "target" is this machine, so tests read and write its files with plain fs under `dir`.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { HostTarget } from '../../src/deploy/types.ts';
import { freePort } from './ports.ts';

export interface SshdOptions {
  /** sshd LogLevel; DEBUG1 logs direct-tcpip forwards (used to prove a jump host was used). */
  logLevel?: 'INFO' | 'VERBOSE' | 'DEBUG1';
  /** Extra sshd_config lines. */
  extraConfig?: string[];
  /**
   * The sftp subsystem's program; default internal-sftp (no shell, no process). Debian's stock sshd_config runs
   * /usr/lib/openssh/sftp-server, which sshd starts through the account's shell like any remote command.
   */
  sftpServer?: string;
}

export interface SshdHandle {
  host: '127.0.0.1';
  port: number;
  /** The server's public host key, "ssh-ed25519 AAAA...". */
  hostKey: string;
  /** Unencrypted client private key (OpenSSH format) allowed in authorized_keys. */
  clientKey: string;
  /** Passphrase-protected client private key, also allowed. */
  encryptedClientKey: string;
  passphrase: string;
  username: string;
  /** Temp root of everything this server uses; removed by stop(). */
  rootDir: string;
  /** A deploy directory on the "target" whose name has a space and Chinese characters. */
  dir: string;
  logPath: string;
  readLog(): string;
  /** A HostTarget for this server, key auth, no pinned key unless given. */
  target(overrides?: Partial<HostTarget>): HostTarget;
  /** Restarts on the same port with a freshly generated host key (a "reinstalled server"). */
  restartWithNewHostKey(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSshd(opts: SshdOptions = {}): Promise<SshdHandle> {
  // sshd refuses to start without its privilege separation directory.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const rootDir = mkdtempSync(join(tmpdir(), 'ferry-sshd-'));
  const dir = join(rootDir, 'srv', 'app 部署');
  mkdirSync(dir, { recursive: true });
  const hostKeyPath = join(rootDir, 'ssh_host_ed25519_key');
  const logPath = join(rootDir, 'sshd.log');

  const clientKeyPath = join(rootDir, 'client_ed25519');
  keygen(clientKeyPath);
  const clientKey = readFileSync(clientKeyPath, 'utf8');
  const passphrase = 'correct horse 电池 staple';
  // Generated in-process so the passphrase never lands on a command line.
  const encrypted = ssh2.utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr', rounds: 16, comment: 'ferry-test-encrypted' });
  writeFileSync(join(rootDir, 'authorized_keys'), `${readFileSync(`${clientKeyPath}.pub`, 'utf8').trim()}\n${encrypted.public.trim()}\n`);

  let hostKey = '';
  const newHostKey = () => {
    rmSync(hostKeyPath, { force: true });
    rmSync(`${hostKeyPath}.pub`, { force: true });
    keygen(hostKeyPath);
    hostKey = readFileSync(`${hostKeyPath}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  };
  newHostKey();

  const configPath = join(rootDir, 'sshd_config');
  const writeConfig = (port: number) =>
    writeFileSync(
      configPath,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKeyPath}`,
        `AuthorizedKeysFile ${join(rootDir, 'authorized_keys')}`,
        `PidFile ${join(rootDir, 'sshd.pid')}`,
        'StrictModes no',
        'UsePAM no',
        'PermitRootLogin yes',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'AllowTcpForwarding yes',
        'AllowAgentForwarding yes',
        `Subsystem sftp ${opts.sftpServer ?? 'internal-sftp'}`,
        'MaxStartups 100',
        'MaxSessions 50',
        `LogLevel ${opts.logLevel ?? 'VERBOSE'}`,
        ...(opts.extraConfig ?? []),
        '',
      ].join('\n'),
    );

  let child: ChildProcess | null = null;
  /** Starts sshd and waits for its own "Server listening" line (a bare TCP probe could hit another test's server). */
  const launch = async (port: number): Promise<'listening' | 'port-taken'> => {
    writeConfig(port);
    const logStart = existsSync(logPath) ? readFileSync(logPath).length : 0;
    const logFd = openSync(logPath, 'a');
    const spawned = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', configPath], { stdio: ['ignore', logFd, logFd] });
    child = spawned;
    closeSync(logFd);
    let exited = false;
    spawned.once('exit', () => (exited = true));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const log = readFileSync(logPath).subarray(logStart).toString('utf8');
      if (log.includes(`Server listening on 127.0.0.1 port ${port}.`)) return 'listening';
      if (exited) {
        if (/Address already in use/.test(log)) return 'port-taken';
        throw new Error(`sshd exited: ${log.slice(-2000)}`);
      }
      if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port}: ${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const halt = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    await gone;
  };

  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    if ((await launch(port)) === 'listening') break;
    if (attempt >= 5) throw new Error('sshd could not find a free port');
  }

  const handle: SshdHandle = {
    host: '127.0.0.1',
    port,
    get hostKey() {
      return hostKey;
    },
    clientKey,
    encryptedClientKey: encrypted.private,
    passphrase,
    username: userInfo().username,
    rootDir,
    dir,
    logPath,
    readLog: () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : ''),
    target: (overrides = {}) => ({
      name: `sshd-${port}`,
      address: '127.0.0.1',
      port,
      username: userInfo().username,
      privateKey: clientKey,
      hostKey: null,
      jump: null,
      ...overrides,
    }),
    async restartWithNewHostKey() {
      await halt();
      newHostKey();
      if ((await launch(port)) !== 'listening') throw new Error(`port ${port} was taken while sshd restarted`);
    },
    async stop() {
      await halt();
      rmSync(rootDir, { recursive: true, force: true });
    },
  };
  return handle;
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry-test', '-f', path], { stdio: 'ignore' });
}


export interface TcpProxy {
  port: number;
  /** Cuts every open connection, like a network failure. */
  dropAll(): void;
  /**
   * Since start (or the last resetBytes): bytes relayed client to server (`up`) and back (`down`), and the
   * connections accepted.
   */
  bytes(): { up: number; down: number; connections: number };
  resetBytes(): void;
  close(): Promise<void>;
}

/** A TCP relay on 127.0.0.1 in front of a port, so tests can cut connections without touching sshd. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const counted = { up: 0, down: 0, connections: 0 };
  const server = createServer((client) => {
    counted.connections++;
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => (counted.up += chunk.length));
    upstream.on('data', (chunk: Buffer) => (counted.down += chunk.length));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    dropAll: () => sockets.forEach((socket) => socket.destroy()),
    bytes: () => ({ ...counted }),
    resetBytes: () => {
      counted.up = 0;
      counted.down = 0;
      counted.connections = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}
