// A browser that stops reading a job's live events must not make Ferry queue output for it without bound.
// Real HTTP server and socket; the job runner is reduced to the three calls the handler makes.
import http from 'node:http';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import express from 'express';
import { streamJobEvents } from '../../../src/web/routes/api/jobs.ts';
import { SSE_LIMITS } from '../../../src/config.ts';
import type { JobRunner } from '../../../src/services/jobs/index.ts';

const servers: http.Server[] = [];
afterEach(() => { for (const s of servers.splice(0)) s.close(); });

function fakeRunner(emitter: EventEmitter, snapshotOutput = '') {
  return {
    getJob: async () => ({ id: 1, status: 'running', output: snapshotOutput, hosts: [] }),
    flush: async () => undefined,
    subscribe: (_id: number, onEvent: (e: unknown) => void) => {
      emitter.on('event', onEvent);
      return () => emitter.off('event', onEvent);
    },
  } as unknown as JobRunner;
}

describe('live job events to a browser that stops reading', () => {
  async function flood(snapshotOutput: string) {
    const emitter = new EventEmitter();
    let backlogPeak = 0;
    let response: express.Response | null = null;
    const app = express();
    app.get('/events', async (req, res) => {
      req.user = { id: 1, name: 'a', role: 'admin', grants: {} } as unknown as Express.User;
      response = res;
      await streamJobEvents(fakeRunner(emitter, snapshotOutput), req, res, 1);
    });
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;

    // A client that sends the request and then never reads: the kernel buffers fill, then Node's.
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    while (!response) await new Promise((r) => setTimeout(r, 10));
    const res = response as express.Response;
    await new Promise((r) => setTimeout(r, 50));
    const afterSnapshot = res.writableLength;

    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    for (let i = 0; i < 600 && !res.destroyed; i++) { // up to ~38 MB of output
      emitter.emit('event', { type: 'output', host: 'h1', text: chunk });
      sent += chunk.length;
      backlogPeak = Math.max(backlogPeak, res.writableLength);
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    const destroyed = res.destroyed;
    socket.destroy();
    return { sent, backlogPeak, afterSnapshot, destroyed, chunk: chunk.length };
  }

  it('skips output past the backlog limit instead of buffering everything', async () => {
    const r = await flood('');
    expect(r.sent).toBeGreaterThan(SSE_LIMITS.cutOffBytes);
    // Without the limits the backlog grows with everything emitted (~38 MB).
    expect(r.backlogPeak).toBeLessThan(SSE_LIMITS.backlogBytes + 2 * r.chunk);
    expect(r.destroyed).toBe(false);
  });

  it('does not count a large snapshot (many hosts\' output) against the limits', async () => {
    const r = await flood('y'.repeat(SSE_LIMITS.cutOffBytes + 1024 * 1024));
    expect(r.afterSnapshot).toBeGreaterThan(SSE_LIMITS.cutOffBytes);
    expect(r.destroyed).toBe(false);
    expect(r.backlogPeak).toBeLessThan(r.afterSnapshot + SSE_LIMITS.backlogBytes + 2 * r.chunk);
  });
});
