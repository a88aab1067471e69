// SSH transport on ssh2: reaches a target directly or through a chain of jump hosts, pins host keys,
// runs shell commands (environment, timeout, live output, streamed stdin: how packages travel).
import { constants as osConstants } from 'node:os';
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type {
  AuthenticationType,
  Client as SshClient,
  ClientChannel,
  ConnectConfig,
  GetStreamCallback,
  IdentityCallback,
  ParsedKey,
  SignCallback,
  SigningRequestOptions,
} from 'ssh2';
import { COMMAND_CAPTURE_CHARS } from '../config.ts';
import { fingerprintOf, hostKeyFromBlob, sameHostKey } from './hostkey.ts';
import { OutputTail } from './output-tail.ts';
import { envPrefix } from './remote.ts';
import type { AgentKey, ConnectOptions, ExecOptions, ExecResult, HostTarget, RemoteSession, Transport } from './types.ts';

const { BaseAgent, Client, utils } = ssh2;

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_KEEPALIVE_MS = 15_000;
/** After a command exits, wait this long for its channel to close (a stray background job may hold stdout). */
const CLOSE_GRACE_MS = 2_000;
/**
 * First stderr line of every command: the remote shell's pid, which is also its process group (sshd calls setsid).
 * Each command's marker carries a random nonce, so a line a login shell prints by itself (`FERRYPID:1` in a .bashrc)
 * is never taken for it.
 */
const PID_MARK = 'FERRYPID:';
/** Stderr searched for the pid line before giving up on it (a login shell may print a banner first). */
const PID_LINE_SEARCH_CHARS = 64 * 1024;

export type TransportErrorCode =
  | 'refused'
  | 'timeout'
  | 'dns'
  | 'unreachable'
  | 'auth'
  | 'bad-key'
  | 'host-key-changed'
  | 'handshake'
  | 'jump-forward'
  | 'connection-lost'
  | 'command-timeout'
  | 'failed';

/** A failure to reach or use a host, in plain words. `host` names the host at fault (a jump host if it failed). */
export class TransportError extends Error {
  override name = 'TransportError';
  readonly host: string;
  readonly code: TransportErrorCode;
  /** Set when a jump host failed while Ferry was on its way to this target. */
  readonly jumpFor?: string;

  constructor(message: string, host: string, code: TransportErrorCode, options: { cause?: unknown; jumpFor?: string } = {}) {
    super(message, { cause: options.cause });
    this.host = host;
    this.code = code;
    this.jumpFor = options.jumpFor;
  }
}

/** A command ran longer than its timeout; it was killed (its whole process group) and this is what it printed. */
export class CommandTimeoutError extends TransportError {
  override name = 'CommandTimeoutError';
  constructor(
    host: string,
    readonly timeoutMs: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`command timed out after ${formatSeconds(timeoutMs)} on ${host} and was stopped`, host, 'command-timeout');
  }
}

export function createSshTransport(): Transport {
  return {
    async connect(target: HostTarget, opts: ConnectOptions = {}): Promise<RemoteSession> {
      return new SshSession(target.name, await connectChain(target, opts));
    },
  };
}

/** One open ssh2 connection and a promise that settles when it has closed. */
interface Connection {
  client: SshClient;
  closed: Promise<void>;
}

/** Connections from the first jump host to the target (the last one). */
async function connectChain(target: HostTarget, opts: ConnectOptions): Promise<Connection[]> {
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
    const sock = await forwardThrough(chain[chain.length - 1].client, jump, target, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
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
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
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
        keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveCountMax: 3,
        hostVerifier,
        ...authConfig(target),
        ...agentConfig(target, opts.forwardAgentKeys),
        ...(sock ? { sock } : { host: target.address, port: target.port }),
      };
      client.connect(config);
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

/**
 * Agent forwarding with an in-memory agent. Ferry's own login keeps to its own key or password (ssh2 would otherwise
 * try the agent's keys too), so an agent key can never stand in for a wrong login key.
 */
function agentConfig(target: HostTarget, keys: readonly AgentKey[] | undefined): Partial<ConnectConfig> {
  if (!keys?.length) return {};
  const methods: AuthenticationType[] = ['none'];
  if (target.password) methods.push('password');
  if (target.privateKey) methods.push('publickey');
  if (target.password) methods.push('keyboard-interactive');
  return { agent: new MemoryAgent(keys, target.name), agentForward: true, authHandler: methods };
}

/**
 * An SSH agent that lives in Ferry's memory: it holds decrypted private keys and answers the agent protocol for ssh
 * clients on a host Ferry is connected to (through agent forwarding), so those clients can log in onwards while no
 * key ever exists on that host's disk. It only lists its keys and signs with them; it never hands a key out.
 */
export class MemoryAgent extends BaseAgent<ParsedKey> {
  private readonly keys: ParsedKey[];

  constructor(keys: readonly AgentKey[], hostName: string) {
    super();
    this.keys = keys.map((key) => parsePrivateKey(key, hostName, `to forward to ${hostName}`));
  }

  getIdentities(cb: IdentityCallback<ParsedKey>): void {
    cb(null, [...this.keys]);
  }

  sign(pubKey: ParsedKey, data: Buffer, options: SigningRequestOptions, cb?: SignCallback): void;
  sign(pubKey: ParsedKey, data: Buffer, cb: SignCallback): void;
  sign(pubKey: ParsedKey, data: Buffer, optionsOrCb: SigningRequestOptions | SignCallback, maybeCb?: SignCallback): void {
    const cb = typeof optionsOrCb === 'function' ? optionsOrCb : maybeCb;
    const hash = typeof optionsOrCb === 'function' ? undefined : optionsOrCb.hash;
    const signed = this.signWith(pubKey.getPublicSSH(), data, hash);
    if (signed instanceof Error) cb?.(signed);
    else cb?.(null, signed.signature);
  }

  /** One agent-protocol endpoint per forwarded connection (`ssh` on the host opens one per login). */
  override getStream(cb: GetStreamCallback): void {
    cb(null, new AgentEndpoint((request) => this.answer(request)));
  }

  /**
   * Answers one agent request (draft-miller-ssh-agent): list identities, sign, and a plain failure for everything
   * else (adding keys, locking, OpenSSH's session-bind extension...). Written here rather than with ssh2's
   * AgentProtocol, which loses its framing on requests it does not know, and OpenSSH's ssh sends one first.
   */
  private answer(request: Buffer): Buffer {
    const type = request[0];
    if (type === AGENTC_REQUEST_IDENTITIES) {
      const count = Buffer.alloc(4);
      count.writeUInt32BE(this.keys.length);
      const entries = this.keys.flatMap((key) => [sshString(key.getPublicSSH()), sshString(Buffer.from(key.comment ?? ''))]);
      return Buffer.concat([Buffer.from([AGENT_IDENTITIES_ANSWER]), count, ...entries]);
    }
    if (type === AGENTC_SIGN_REQUEST) {
      const reader = new SshReader(request, 1);
      const blob = reader.string();
      const data = reader.string();
      const flags = reader.uint32();
      if (!blob || !data || flags === null) return Buffer.from([AGENT_FAILURE]);
      const hash = flags & AGENT_RSA_SHA2_512 ? 'sha512' : flags & AGENT_RSA_SHA2_256 ? 'sha256' : undefined;
      const signed = this.signWith(blob, data, hash);
      if (signed instanceof Error) return Buffer.from([AGENT_FAILURE]);
      return Buffer.concat([Buffer.from([AGENT_SIGN_RESPONSE]), sshString(Buffer.concat([sshString(Buffer.from(signed.format)), sshString(signed.signature)]))]);
    }
    return Buffer.from([AGENT_FAILURE]);
  }

  /** Signs with the held key whose public blob is `blob`; the signature is in SSH's form, with its format name. */
  private signWith(blob: Buffer, data: Buffer, hash: SigningRequestOptions['hash']): { format: string; signature: Buffer } | Error {
    const key = this.keys.find((k) => k.getPublicSSH().equals(blob));
    if (!key) return new Error('this agent does not hold that key');
    try {
      // Only RSA has a choice of hash (rsa-sha2-256/512, asked for by the client); the other types fix their own.
      const rsaHash = key.type === 'ssh-rsa' ? (hash ?? 'sha1') : undefined;
      const signature = key.sign(data, rsaHash) as Buffer | Error;
      if (signature instanceof Error) return signature;
      const format = rsaHash === 'sha256' ? 'rsa-sha2-256' : rsaHash === 'sha512' ? 'rsa-sha2-512' : key.type;
      return { format, signature: key.type.startsWith('ecdsa-') ? ecdsaSignatureToSsh(signature) : signature };
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }
}

const AGENT_FAILURE = 5;
const AGENTC_REQUEST_IDENTITIES = 11;
const AGENT_IDENTITIES_ANSWER = 12;
const AGENTC_SIGN_REQUEST = 13;
const AGENT_SIGN_RESPONSE = 14;
const AGENT_RSA_SHA2_256 = 2;
const AGENT_RSA_SHA2_512 = 4;
/**
 * The largest agent request answered. Ferry's agent answers two requests: "list identities" (1 byte) and "sign" (a key
 * blob of at most ~2 KB for an RSA-8192 key or a certificate, the data to sign, about the session id and the userauth
 * request that repeats the key blob, and 4 bytes of flags): a few KB at most. Anything bigger is not a real client.
 */
export const MAX_AGENT_MESSAGE = 16 * 1024;

/**
 * The agent's side of one forwarded channel: length-framed requests in, one answer out per request, in order.
 * Whatever the host sends, this stream never emits 'error' (ssh2 pipes it to the channel with no error handler, so an
 * error would crash the process): a malformed or oversize frame gets SSH_AGENT_FAILURE and the channel is closed.
 * Each byte the host sends is copied once (into its frame), however small its packets: a frame sent one byte per
 * packet costs no more than one sent whole.
 */
export class AgentEndpoint extends Duplex {
  /** The 4-byte length of the frame being read, as far as it has arrived. */
  private readonly header = Buffer.alloc(4);
  private headerFilled = 0;
  /** The body of the frame being read, allocated once its length is known; null while the header is incomplete. */
  private frame: Buffer | null = null;
  private frameFilled = 0;
  private broken = false;

  constructor(private readonly answer: (request: Buffer) => Buffer) {
    super();
    // The forwarded channel is piped in here: its errors (the host's doing) must not reach the process either.
    this.on('pipe', (source: NodeJS.ReadableStream) => source.on('error', () => undefined));
    this.on('error', () => undefined);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    let pos = 0;
    while (!this.broken && pos < chunk.length) {
      if (!this.frame) {
        const taken = chunk.copy(this.header, this.headerFilled, pos, Math.min(chunk.length, pos + 4 - this.headerFilled));
        this.headerFilled += taken;
        pos += taken;
        if (this.headerFilled < 4) break;
        const length = this.header.readUInt32BE(0);
        if (length === 0 || length > MAX_AGENT_MESSAGE) {
          this.refuse();
          break;
        }
        this.frame = Buffer.allocUnsafe(length);
        this.frameFilled = 0;
      }
      const taken = chunk.copy(this.frame, this.frameFilled, pos, Math.min(chunk.length, pos + this.frame.length - this.frameFilled));
      this.frameFilled += taken;
      pos += taken;
      if (this.frameFilled < this.frame.length) break;
      const request = this.frame;
      this.frame = null;
      this.headerFilled = 0;
      let reply: Buffer;
      try {
        reply = this.answer(request);
      } catch {
        reply = Buffer.from([AGENT_FAILURE]);
      }
      this.push(sshString(reply));
    }
    done();
  }

  /** A frame no agent client sends: answer failure, end this channel and ignore whatever else arrives on it. */
  private refuse(): void {
    this.broken = true;
    this.frame = null;
    this.push(sshString(Buffer.from([AGENT_FAILURE])));
    this.push(null);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (!this.broken) this.push(null);
    done();
  }
}

/** uint32 length + bytes: SSH's `string`, also the agent protocol's message frame. */
function sshString(value: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(value.length);
  return Buffer.concat([length, value]);
}

class SshReader {
  constructor(
    private readonly buffer: Buffer,
    private pos: number,
  ) {}

  uint32(): number | null {
    if (this.pos + 4 > this.buffer.length) return null;
    const value = this.buffer.readUInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  string(): Buffer | null {
    const length = this.uint32();
    if (length === null || this.pos + length > this.buffer.length) return null;
    const value = this.buffer.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }
}

/** "type base64" public half of a private key (for an ssh IdentityFile that selects an agent key); throws if unreadable. */
export function publicKeyOf(key: AgentKey, hostName: string): string {
  const parsed = parsePrivateKey(key, hostName);
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}

/** The decrypted key, or a TransportError in the words authConfig uses. */
function parsePrivateKey(key: AgentKey, hostName: string, owner = `of ${hostName}`): ParsedKey {
  const parsed = utils.parseKey(key.privateKey, key.passphrase || undefined) as ParsedKey | ParsedKey[] | Error;
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (first instanceof Error || !first?.isPrivateKey()) {
    const reason = first instanceof Error ? first.message : 'not a private key';
    throw new TransportError(`cannot read the private key ${owner}: ${reason}`, hostName, 'bad-key', { cause: first });
  }
  return first;
}

/**
 * OpenSSL signs ECDSA as DER (SEQUENCE of two INTEGERs); the agent protocol wants SSH's form, two mpints (RFC 5656).
 * A DER INTEGER's content is already a minimal two's-complement big-endian number, i.e. an mpint's body.
 */
function ecdsaSignatureToSsh(der: Buffer): Buffer {
  let pos = 0;
  const readLength = (): number => {
    const first = der[pos++];
    if (first < 0x80) return first;
    let length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = (length << 8) | der[pos++];
    return length;
  };
  const readInteger = (): Buffer => {
    if (der[pos++] !== 0x02) throw new Error('unexpected ECDSA signature encoding');
    const length = readLength();
    const value = der.subarray(pos, pos + length);
    pos += length;
    return value;
  };
  if (der[pos++] !== 0x30) throw new Error('unexpected ECDSA signature encoding');
  readLength();
  return Buffer.concat([sshString(readInteger()), sshString(readInteger())]);
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

class SshSession implements RemoteSession {
  private lost: TransportError | null = null;
  private closing = false;
  /** Rejecters of running commands and uploads, called when the connection drops. */
  private readonly aborters = new Set<(err: TransportError) => void>();

  constructor(
    readonly hostName: string,
    private readonly chain: Connection[],
  ) {
    const onLost = (err?: Error) => {
      if (this.lost) return;
      const why = this.closing ? `the session to ${hostName} is closed` : `connection to ${hostName} was lost${err ? `: ${err.message}` : ''}`;
      this.lost = new TransportError(why, hostName, 'connection-lost', { cause: err });
      for (const abort of [...this.aborters]) abort(this.lost);
    };
    this.client.on('error', onLost);
    this.client.on('close', () => onLost());
  }

  private get client(): SshClient {
    return this.chain[this.chain.length - 1].client;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.lost) return Promise.reject(this.lost);
    const nonce = randomBytes(8).toString('hex');
    let script: string;
    try {
      script = `printf '${PID_MARK}${nonce}:%s\\n' "$$" >&2; ${envPrefix(opts.env)}${command}`;
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<ExecResult>((resolve, reject) => {
      const captureLimit = opts.captureChars ?? COMMAND_CAPTURE_CHARS;
      const stdout = new OutputTail(captureLimit);
      const stderr = new OutputTail(captureLimit);
      const stdoutText = new StringDecoder('utf8');
      const stderrText = new StringDecoder('utf8');
      const pidLine = new PidLineFilter(nonce);
      let exitCode: number | null = null;
      let timedOut = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;

      const emitStdout = (text: string) => {
        if (!text) return;
        stdout.push(text);
        opts.onOutput?.(text, 'stdout');
      };
      const emitStderr = (text: string) => {
        if (!text) return;
        stderr.push(text);
        opts.onOutput?.(text, 'stderr');
      };
      const flush = () => {
        emitStdout(stdoutText.end());
        emitStderr(pidLine.push(stderrText.end()));
        emitStderr(pidLine.end());
      };
      let stopListening = () => {};
      let stopInput = () => {};
      const settle = (finish: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        stopListening();
        stopInput();
        this.aborters.delete(abort);
        finish();
      };
      const abort = (err: TransportError) => settle(() => reject(err));
      this.aborters.add(abort);

      this.client.exec(script, (err, channel) => {
        if (err) return abort(new TransportError(`could not start a command on ${this.hostName}: ${err.message}`, this.hostName, 'failed', { cause: err }));
        if (settled) return channel.close();

        const completed = () => {
          if (timedOut) return;
          flush();
          if (exitCode === null) {
            // No exit status: the channel was torn down, usually because the connection is going away.
            setImmediate(() => abort(this.lost ?? new TransportError(`a command on ${this.hostName} ended without an exit status`, this.hostName, 'connection-lost')));
            return;
          }
          const code = exitCode;
          settle(() => resolve({ code, stdout: stdout.text(), stderr: stderr.text() }));
        };

        channel.on('data', (chunk: Buffer) => emitStdout(stdoutText.write(chunk)));
        channel.stderr.on('data', (chunk: Buffer) => emitStderr(pidLine.push(stderrText.write(chunk))));
        channel.on('exit', (code: number | null, signal?: string) => {
          exitCode = code ?? exitCodeOfSignal(signal);
          graceTimer = setTimeout(() => {
            channel.close();
            completed();
          }, CLOSE_GRACE_MS);
        });
        channel.on('close', completed);
        // Errors on a channel are the host's doing; the command's result says what happened.
        channel.on('error', () => undefined);
        channel.stderr.on('error', () => undefined);

        /** Stops the command (its whole process group) and fails with what `why` makes of its output so far. */
        const stop = (why: () => Error) => {
          if (settled || timedOut) return;
          timedOut = true;
          flush();
          void this.stopCommand(channel, pidLine.pid).finally(() => settle(() => reject(why())));
        };
        if (opts.timeoutMs && opts.timeoutMs > 0) {
          const timeoutMs = opts.timeoutMs;
          timer = setTimeout(() => stop(() => new CommandTimeoutError(this.hostName, timeoutMs, stdout.text(), stderr.text())), timeoutMs);
        }
        const signal = opts.signal;
        if (signal) {
          const onAbort = () => stop(() => (signal.reason instanceof Error ? signal.reason : new TransportError(`a command on ${this.hostName} was stopped`, this.hostName, 'failed')));
          if (signal.aborted) onAbort();
          else {
            signal.addEventListener('abort', onAbort, { once: true });
            stopListening = () => signal.removeEventListener('abort', onAbort);
          }
        }

        const input = opts.stdin;
        if (input === undefined) channel.end();
        else if (typeof input === 'string' || Buffer.isBuffer(input)) channel.end(input);
        else {
          input.once('error', (inputErr) => {
            channel.close();
            abort(new TransportError(`reading the input of a command for ${this.hostName} failed: ${inputErr.message}`, this.hostName, 'failed', { cause: inputErr }));
          });
          input.pipe(channel);
          // A command that ends before reading all its input (it refused, or failed early) stops the input too.
          stopInput = () => {
            input.unpipe(channel);
            input.destroy();
          };
        }
      });
    });
  }

  /**
   * Stops a command that ran too long: TERM to its whole process group, KILL a second later, then close the channel.
   * Only a pid from this command's own marker is used, and never one below 2 (`kill -- -1` would hit every process
   * of the user).
   */
  private async stopCommand(channel: ClientChannel, pid: number | null): Promise<void> {
    try {
      channel.signal('TERM');
    } catch {
      // Old servers do not support signals; killing the process group below does the work.
    }
    if (pid !== null && Number.isSafeInteger(pid) && pid >= 2 && !this.lost) {
      const group = `-${pid}`;
      await this.exec(`kill -s TERM -- ${group} 2>/dev/null || exit 0; sleep 1; kill -s KILL -- ${group} 2>/dev/null; exit 0`, { timeoutMs: 10_000 }).catch(() => undefined);
    }
    channel.close();
  }

  async close(): Promise<void> {
    this.closing = true;
    await closeConnections(this.chain);
  }
}

/** Ends connections from the target back to the first jump host, waiting briefly for each to close. */
async function closeConnections(chain: Connection[]): Promise<void> {
  for (const { client, closed } of [...chain].reverse()) {
    client.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 2_000)));
    if ((await Promise.race([closed, late])) === 'late') client.destroy();
    clearTimeout(timer);
  }
}

/**
 * Takes this command's FERRYPID line out of stderr (it may arrive split, or after a login-shell banner). Only a whole
 * line `FERRYPID:<nonce>:<digits>` counts; any other FERRYPID line is the host's own output and stays in stderr.
 * Each finished line is tested once and never rescanned, so the work is linear in what the host sends, whatever size
 * its packets are; stderr is held back until the line is found or PID_LINE_SEARCH_CHARS have passed without it.
 */
export class PidLineFilter {
  pid: number | null = null;
  /** Finished lines (with their newline) seen before the marker; null once the search is over. */
  private held: string[] | null = [];
  private heldChars = 0;
  /** The unfinished last line, in pieces (joined once, when its newline arrives). */
  private partial: string[] = [];
  private partialChars = 0;
  private readonly mark: string;

  constructor(nonce: string) {
    this.mark = `${PID_MARK}${nonce}:`;
  }

  push(text: string): string {
    if (this.held === null) return text;
    let start = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      const piece = text.slice(start, newline);
      const line = this.partial.length > 0 ? this.partial.join('') + piece : piece;
      this.partial = [];
      this.partialChars = 0;
      start = newline + 1;
      const pid = this.pidIn(line);
      if (pid !== null) {
        this.pid = pid;
        const before = this.held.join('');
        this.held = null;
        return before + text.slice(start);
      }
      this.held.push(`${line}\n`);
      this.heldChars += line.length + 1;
    }
    if (start < text.length) {
      this.partial.push(text.slice(start));
      this.partialChars += text.length - start;
    }
    if (this.heldChars + this.partialChars > PID_LINE_SEARCH_CHARS) return this.end();
    return '';
  }

  end(): string {
    if (this.held === null) return '';
    const rest = this.held.join('') + this.partial.join('');
    this.held = null;
    this.partial = [];
    return rest;
  }

  /** The pid when `line` is exactly this command's marker line, else null. */
  private pidIn(line: string): number | null {
    if (!line.startsWith(this.mark)) return null;
    const digits = line.slice(this.mark.length);
    return digits.length >= 1 && digits.length <= 10 && /^\d+$/.test(digits) ? Number(digits) : null;
  }
}

function exitCodeOfSignal(signal: string | undefined): number {
  if (!signal) return 255;
  const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as keyof typeof osConstants.signals;
  const number = osConstants.signals[name];
  return typeof number === 'number' ? 128 + number : 255;
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

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)}s`;
}
