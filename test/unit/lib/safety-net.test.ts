// The process-level safety net: log and keep serving; exit only on a storm of uncaught errors.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { installSafetyNet } from '../../../src/lib/safety-net.ts';

function fakeLogger() {
  const lines: { level: string; msg?: string; err: unknown }[] = [];
  return {
    lines,
    error: (obj: object, msg?: string) => void lines.push({ level: 'error', msg, err: (obj as { err: unknown }).err }),
    fatal: (obj: object, msg?: string) => void lines.push({ level: 'fatal', msg, err: (obj as { err: unknown }).err }),
  };
}

describe('installSafetyNet', () => {
  it('logs an uncaught error and an unhandled rejection and keeps going', () => {
    const proc = new EventEmitter();
    const logger = fakeLogger();
    const exits: string[] = [];
    installSafetyNet(logger, proc, { exit: (reason) => void exits.push(reason) });
    const bad = new Error('malformed agent request');
    proc.emit('uncaughtException', bad);
    proc.emit('unhandledRejection', new Error('nobody awaited me'));
    expect(exits).toEqual([]);
    expect(logger.lines.map((l) => [l.level, String(l.err)])).toEqual([
      ['error', 'Error: malformed agent request'],
      ['error', 'Error: nobody awaited me'],
    ]);
  });

  it('exits once when uncaught errors come in a storm, and not for the same number spread over time', () => {
    let clock = 0;
    const proc = new EventEmitter();
    const exits: string[] = [];
    installSafetyNet(fakeLogger(), proc, { exit: (reason) => void exits.push(reason), now: () => clock, maxPerMinute: 5 });
    for (let i = 0; i < 10; i++) {
      clock += 61_000;
      proc.emit('uncaughtException', new Error('now and then'));
    }
    expect(exits).toEqual([]);
    for (let i = 0; i < 7; i++) proc.emit('uncaughtException', new Error('storm'));
    expect(exits).toEqual(['5 uncaught errors within a minute']);
  });

  it('can be removed again', () => {
    const proc = new EventEmitter();
    const remove = installSafetyNet(fakeLogger(), proc, { exit: () => undefined });
    remove();
    expect(proc.listenerCount('uncaughtException')).toBe(0);
    expect(proc.listenerCount('unhandledRejection')).toBe(0);
  });
});
