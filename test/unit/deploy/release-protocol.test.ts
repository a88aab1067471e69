import { describe, expect, it } from 'vitest';
import { MarkReader, readChunkBytes } from '../../../src/deploy/release/protocol.ts';

describe('readChunkBytes', () => {
  it('reads 256 KiB at a time for a few hosts and shares a 4 MiB read-ahead among many, never below 64 KiB', () => {
    expect(readChunkBytes(1)).toBe(256 * 1024);
    expect(readChunkBytes(16)).toBe(256 * 1024);
    expect(readChunkBytes(24)).toBe(128 * 1024);
    expect(readChunkBytes(50)).toBe(64 * 1024);
    expect(readChunkBytes(500)).toBe(64 * 1024);
    expect(readChunkBytes(0)).toBe(256 * 1024);
  });
});

describe('MarkReader', () => {
  it('passes on only the marked lines, joined across chunks', () => {
    const lines: string[] = [];
    const reader = new MarkReader((line) => lines.push(line));
    reader.push('noise\nferry:phase rec');
    reader.push('eiving\ntar: something\nferry:verified\nferry:partial');
    expect(lines).toEqual(['phase receiving', 'verified']);
  });
});
