// Connections to a target, directly or through a chain of jump hosts (direct-tcpip): login, host-key pinning, and
// ssh2's errors turned into TransportErrors a person can act on.
import { DEFAULTS } from '../../config.ts';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, ConnectConfig } from 'ssh2';
import { fingerprintOf, hostKeyFromBlob, sameHostKey } from '../hostkey.ts';
import type { ConnectOptions, HostTarget } from '../types.ts';
import { agentConfig } from './agent.ts';
import { TransportError, formatSeconds, type TransportErrorCode } from './errors.ts';

const { Client, utils } = ssh2;

/** One open ssh2 connection and a promise that settles when it has closed. */
export interface Connection {
  client: SshClient;
  closed: Promise<void>;
}

/** Connections from the first jump host to the target (the last one). */
export async function connectChain(target: HostTarget, opts: ConnectOptions): Promise<Connection[]> {
  const jump = target.jump;
  if (!jump) return [await connectHop(target, opts)];

  let chain: Connection[];
  try {
    // Forwarded keys are for the last hop only: the jump hosts on the way never get an agent.
    chain = await connectChain(jump, { ...opts, forwardAgentKeys: undefined });
  } catch (err) {
    throw throughJump(err, jump, target);
  }
  try {
    const sock = await forwardThrough(chain[chain.length - 1].client, jump, target, opts.connectTimeoutMs ?? DEFAULTS.sshConnectTimeoutMs);
    chain.push(await connectHop(target, opts, sock));
    return chain;
  } catch (err) {
    await closeConnections(chain);
    throw err;
  }
}

function throughJump(err: unknown, jump: HostTarget, target: HostTarget): unknown {
  if (!(err instanceof TransportError) || err.jumpFor) return err;
  return new TransportError(`cannot reach ${target.name} through jump host ${jump.name}: ${err.message}`, err.host, err.code, {
    cause: err,
    jumpFor: target.name,
  });
}

/** Asks the jump host to open a TCP connection to the target (direct-tcpip); the channel becomes the target's socket. */
function forwardThrough(jumpClient: SshClient, jump: HostTarget, target: HostTarget, timeoutMs: number): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new TransportError(`jump host ${jump.name} did not open a connection to ${where(target)} within ${formatSeconds(timeoutMs)}`, jump.name, 'timeout', { jumpFor: target.name }));
    }, timeoutMs);
    jumpClient.forwardOut('127.0.0.1', 0, target.address, target.port, (err, channel) => {
      clearTimeout(timer);
      if (!err) {
        // The jump host controls this channel: its errors reach the Client built on it, never the process.
        channel.on('error', () => undefined);
        channel.stderr?.on('error', () => undefined);
        if (timedOut) return void channel.close();
        return resolve(channel);
      }
      if (timedOut) return;
      const reason = err.message.replace(/^\(SSH\) Channel open failure:\s*/i, '');
      const code: TransportErrorCode = /refused/i.test(reason) ? 'refused' : 'jump-forward';
      reject(new TransportError(`jump host ${jump.name} could not open a connection to ${where(target)}: ${reason}`, jump.name, code, { cause: err, jumpFor: target.name }));
    });
  });
}

/** Connects and logs in to one host, then pins its key through onNewHostKey when none was pinned. */
async function connectHop(target: HostTarget, opts: ConnectOptions, sock?: Duplex): Promise<Connection> {
  const { connection, presentedKey } = await login(target, opts, sock);
  if (!target.hostKey && opts.onNewHostKey) {
    try {
      await opts.onNewHostKey(target.name, presentedKey, fingerprintOf(presentedKey));
    } catch (err) {
      await closeConnections([connection]);
      throw err;
    }
  }
  return connection;
}

function login(target: HostTarget, opts: ConnectOptions, sock?: Duplex): Promise<{ connection: Connection; presentedKey: string }> {
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULTS.sshConnectTimeoutMs;
  return new Promise((resolve, reject) => {
    const client = new Client();
    const closed = new Promise<void>((done) => client.once('close', () => done()));
    let presentedKey = '';
    let keyRefusal: TransportError | undefined;
    let settled = false;
    const fail = (err: TransportError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };

    client.on('error', (err) => fail(keyRefusal ?? describeConnectError(err, target, timeoutMs)));
    client.on('close', () => fail(keyRefusal ?? new TransportError(`${where(target)} closed the connection during login`, target.name, 'failed')));
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => target.password ?? '')));
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      resolve({ connection: { client, closed }, presentedKey });
    });

    const hostVerifier = (blob: Buffer): boolean => {
      try {
        presentedKey = hostKeyFromBlob(blob);
      } catch {
        keyRefusal = new TransportError(`${target.name} presented an unreadable host key`, target.name, 'handshake');
        return false;
      }
      if (target.hostKey && !sameHostKey(target.hostKey, presentedKey)) {
        keyRefusal = new TransportError(
          `host key changed for ${target.name} (expected ${safeFingerprint(target.hostKey)}, got ${fingerprintOf(blob)})` +
            ' — if the server was reinstalled, clear the pinned key in the host settings',
          target.name,
          'host-key-changed',
        );
        return false;
      }
      return true;
    };

    try {
      const config: ConnectConfig = {
        username: target.username,
        readyTimeout: timeoutMs,
        keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULTS.sshKeepaliveIntervalMs,
        keepaliveCountMax: 3,
        hostVerifier,
        ...authConfig(target),
        ...agentConfig(target, opts.forwardAgentKeys),
        ...(sock ? { sock } : { host: target.address, port: target.port }),
      };
      client.connect(config);
      // ssh2 leaves Nagle's algorithm on: each small packet of the login (service request, each auth attempt) then
      // waited for the server's delayed ACK, ~40 ms a step: a login took 220 ms on loopback instead of 70. (A hop
      // through a jump host is a channel, whose TCP socket is the first hop's: that one is set at its own login.)
      client.setNoDelay(true);
    } catch (err) {
      fail(err instanceof TransportError ? err : describeConnectError(err, target, timeoutMs));
    }
  });
}

function authConfig(target: HostTarget): Partial<ConnectConfig> {
  const config: Partial<ConnectConfig> = {};
  if (target.privateKey) {
    const parsed = utils.parseKey(target.privateKey, target.passphrase || undefined);
    if (parsed instanceof Error) {
      const message = /no passphrase given/i.test(parsed.message)
        ? `the private key for ${target.name} is encrypted but no passphrase is set`
        : /passphrase|integrity|decrypt/i.test(parsed.message)
          ? `wrong passphrase for the private key of ${target.name}`
          : `cannot read the private key for ${target.name}: ${parsed.message}`;
      throw new TransportError(message, target.name, 'bad-key', { cause: parsed });
    }
    config.privateKey = target.privateKey;
    if (target.passphrase) config.passphrase = target.passphrase;
  }
  if (target.password) {
    config.password = target.password;
    config.tryKeyboard = true;
  }
  if (!config.privateKey && !config.password) {
    throw new TransportError(`no private key or password is set for ${target.name}`, target.name, 'auth');
  }
  return config;
}

/** Turns ssh2 and socket errors into sentences a person can act on. */
export function describeConnectError(err: unknown, target: HostTarget, timeoutMs: number): TransportError {
  const e = (err ?? {}) as { message?: string; level?: string; code?: string };
  const message = e.message ?? String(err);
  const make = (text: string, code: TransportErrorCode) => new TransportError(text, target.name, code, { cause: err });
  if (e.level === 'client-authentication') {
    return make(`authentication failed for ${target.username}@${target.name}: all configured authentication methods failed — check the user name, key and password`, 'auth');
  }
  if (e.level === 'client-timeout' || e.code === 'ETIMEDOUT') {
    return make(`timed out connecting to ${where(target)} after ${formatSeconds(timeoutMs)} — is the host up and the port open?`, 'timeout');
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return make(`connection refused by ${where(target)} — is sshd running and is the port right?`, 'refused');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return make(`host name "${target.address}" of ${target.name} was not found (DNS)`, 'dns');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return make(`no network route to ${where(target)}`, 'unreachable');
    case 'ECONNRESET':
    case 'EPIPE':
      return make(`${where(target)} dropped the connection during login`, 'failed');
  }
  if (/handshake|no matching|kex/i.test(message)) return make(`SSH handshake with ${where(target)} failed: ${message}`, 'handshake');
  return make(`could not connect to ${where(target)}: ${message}`, 'failed');
}

/** Ends connections from the target back to the first jump host, waiting briefly for each to close. */
export async function closeConnections(chain: Connection[]): Promise<void> {
  for (const { client, closed } of [...chain].reverse()) {
    client.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 2_000)));
    if ((await Promise.race([closed, late])) === 'late') client.destroy();
    clearTimeout(timer);
  }
}

function safeFingerprint(key: string): string {
  try {
    return fingerprintOf(key);
  } catch {
    return 'an unreadable pinned key';
  }
}

function where(target: HostTarget): string {
  return `${target.name} (${target.address}:${target.port})`;
}
