// The in-memory ssh-agent offered by agent forwarding: it holds decrypted keys for ssh clients on a connected host,
// lists them and signs with them. The wire framing it answers through is in agent-protocol.ts.
import ssh2 from 'ssh2';
import type { AuthenticationType, ConnectConfig, GetStreamCallback, IdentityCallback, ParsedKey, SignCallback, SigningRequestOptions } from 'ssh2';
import type { AgentKey, HostTarget } from '../types.ts';
import {
  AGENT_FAILURE,
  AGENT_IDENTITIES_ANSWER,
  AGENT_RSA_SHA2_256,
  AGENT_RSA_SHA2_512,
  AGENT_SIGN_RESPONSE,
  AGENTC_REQUEST_IDENTITIES,
  AGENTC_SIGN_REQUEST,
  AgentEndpoint,
  SshReader,
  ecdsaSignatureToSsh,
  sshString,
} from './agent-protocol.ts';
import { parsePrivateKey } from './keys.ts';

const { BaseAgent } = ssh2;

/**
 * Agent forwarding with an in-memory agent. Ferry's own login keeps to its own key or password (ssh2 would otherwise
 * try the agent's keys too), so an agent key can never stand in for a wrong login key.
 */
export function agentConfig(target: HostTarget, keys: readonly AgentKey[] | undefined): Partial<ConnectConfig> {
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
class MemoryAgent extends BaseAgent<ParsedKey> {
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
