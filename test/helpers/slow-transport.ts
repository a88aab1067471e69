// The real SSH transport with every command's stdin fed at a fixed rate: an upload of N bytes then takes a known
// time, so tests can watch its progress without depending on how fast this machine is.
import { pipeline, Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Transport } from '../../src/deploy/types.ts';

const SLICE_BYTES = 16 * 1024;

/** A pass-through that lets `bytesPerSecond` through, in slices, holding back the writer meanwhile. */
export function rateLimited(bytesPerSecond: number): Transform {
  return new Transform({
    highWaterMark: SLICE_BYTES,
    async transform(chunk: Buffer, _encoding, done) {
      try {
        for (let i = 0; i < chunk.length; i += SLICE_BYTES) {
          const slice = chunk.subarray(i, i + SLICE_BYTES);
          await sleep((slice.length / bytesPerSecond) * 1000);
          this.push(slice);
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

export function slowUploads(inner: Transport, bytesPerSecond: number): Transport {
  return {
    async connect(target, opts) {
      const session = await inner.connect(target, opts);
      return {
        hostName: session.hostName,
        exec(command, execOpts = {}) {
          if (!(execOpts.stdin instanceof Readable)) return session.exec(command, execOpts);
          const slow = rateLimited(bytesPerSecond);
          pipeline(execOpts.stdin, slow, () => undefined);
          return session.exec(command, { ...execOpts, stdin: slow });
        },
        close: () => session.close(),
      };
    },
  };
}
