// The ssh-agent wire protocol (draft-miller-ssh-agent) as Ferry's agent speaks it: message numbers, SSH strings, and
// the length-framed endpoint one forwarded channel talks to, hardened against what a hostile host can send.
import { Duplex } from 'node:stream';

export const AGENT_FAILURE = 5;
export const AGENTC_REQUEST_IDENTITIES = 11;
export const AGENT_IDENTITIES_ANSWER = 12;
export const AGENTC_SIGN_REQUEST = 13;
export const AGENT_SIGN_RESPONSE = 14;
export const AGENT_RSA_SHA2_256 = 2;
export const AGENT_RSA_SHA2_512 = 4;
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
export function sshString(value: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(value.length);
  return Buffer.concat([length, value]);
}

export class SshReader {
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

/**
 * OpenSSL signs ECDSA as DER (SEQUENCE of two INTEGERs); the agent protocol wants SSH's form, two mpints (RFC 5656).
 * A DER INTEGER's content is already a minimal two's-complement big-endian number, i.e. an mpint's body.
 */
export function ecdsaSignatureToSsh(der: Buffer): Buffer {
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
