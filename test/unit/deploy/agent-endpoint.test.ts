// The forwarded agent's framing, against what a hostile relay can send: frames in tiny packets, oversize frames.
import { describe, expect, it } from 'vitest';
import { AgentEndpoint, MAX_AGENT_MESSAGE } from '../../../src/deploy/transport/agent-protocol.ts';

const FAILURE = 5;

function frame(body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

/** An endpoint whose answer echoes the request's first byte and length, and what it pushed back. */
function endpoint() {
  const requests: Buffer[] = [];
  const agent = new AgentEndpoint((request) => {
    requests.push(Buffer.from(request));
    const reply = Buffer.alloc(5);
    reply[0] = request[0];
    reply.writeUInt32BE(request.length, 1);
    return reply;
  });
  const replies: Buffer[] = [];
  let ended = false;
  agent.on('data', (chunk: Buffer) => replies.push(chunk));
  agent.on('end', () => (ended = true));
  const write = (bytes: Buffer) => new Promise<void>((resolve) => agent.write(bytes, () => resolve()));
  return { agent, requests, replies, write, ended: () => ended };
}

describe('AgentEndpoint', () => {
  it('answers frames split over packets and several frames in one packet, in order', async () => {
    const { requests, replies, write } = endpoint();
    const first = frame(Buffer.from([11]));
    const second = frame(Buffer.concat([Buffer.from([13]), Buffer.alloc(300, 7)]));
    const both = Buffer.concat([first, second, first]);
    await write(both.subarray(0, 2));
    await write(both.subarray(2, 7));
    await write(both.subarray(7));
    await new Promise((resolve) => setImmediate(resolve));
    expect(requests.map((r) => [r[0], r.length])).toEqual([
      [11, 1],
      [13, 301],
      [11, 1],
    ]);
    expect(Buffer.concat(replies)).toEqual(
      Buffer.concat([frame(Buffer.from([11, 0, 0, 0, 1])), frame(Buffer.from([13, 0, 0, 1, 45])), frame(Buffer.from([11, 0, 0, 0, 1]))]),
    );
  });

  it('copies each byte of a frame sent one byte per packet once, not the whole frame per packet', async () => {
    const { requests, write } = endpoint();
    const body = Buffer.alloc(15 * 1024, 1);
    body[0] = 13;
    const bytes = frame(body);
    // Counts the bytes every Buffer.concat and Buffer#copy moves (without keeping the buffers, as a spy would).
    let copied = 0;
    const { concat } = Buffer;
    const { copy } = Buffer.prototype;
    Buffer.concat = (list: readonly Uint8Array[], totalLength?: number) => {
      copied += list.reduce((sum, b) => sum + b.length, 0);
      return concat.call(Buffer, list, totalLength);
    };
    Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer['copy']>) {
      const n = copy.apply(this, args);
      copied += n;
      return n;
    };
    const started = process.cpuUsage();
    try {
      for (let i = 0; i < bytes.length; i++) await write(bytes.subarray(i, i + 1));
    } finally {
      Buffer.concat = concat;
      Buffer.prototype.copy = copy;
    }
    const used = process.cpuUsage(started);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toEqual(body);
    // One copy into the frame (plus the 4-byte header and the small reply); before, each packet re-copied the frame
    // so far: 15 KB sent byte by byte copied 118 MB, and a 256 KB frame blocked the event loop for 9 s.
    expect(copied).toBeLessThan(4 * bytes.length);
    expect((used.user + used.system) / 1000).toBeLessThan(5_000);
  });

  it('refuses a frame longer than an agent request can be with SSH_AGENT_FAILURE and ends the channel at once', async () => {
    const { requests, replies, write, ended, agent } = endpoint();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(256 * 1024);
    await write(header);
    await new Promise((resolve) => setImmediate(resolve));
    expect(Buffer.concat(replies)).toEqual(frame(Buffer.from([FAILURE])));
    expect(ended()).toBe(true);
    // Whatever follows is ignored and answered with nothing.
    await write(Buffer.alloc(64 * 1024, 1));
    expect(requests).toHaveLength(0);
    expect(Buffer.concat(replies)).toEqual(frame(Buffer.from([FAILURE])));
    expect(agent.listenerCount('error')).toBeGreaterThan(0);
    expect(MAX_AGENT_MESSAGE).toBeLessThanOrEqual(16 * 1024);
  });
});
