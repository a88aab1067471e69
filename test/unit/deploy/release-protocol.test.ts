import { describe, expect, it } from 'vitest';
import { MarkReader, readChunkBytes, wirePrelude } from '../../../src/deploy/release/protocol.ts';
import { driftCheckFor, driftRefusal } from '../../../src/deploy/release/drift.ts';
import { PackageFeed } from '../../../src/deploy/release/feed.ts';

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

describe('the drift check a host reads first', () => {
  it('is built from the packer\'s plan while the package is still being written, and never skips a host then', () => {
    const sha = (c: string) => c.repeat(64);
    const recorded = [{ path: 'conf/app.ini', sha256: sha('a'), size: 3 }, { path: 'old.txt', sha256: sha('c'), size: 1 }];
    const growing = PackageFeed.growing('/nonexistent/package', 10, new Promise(() => undefined), ['conf/app.ini', 'bin/x.sh']);
    expect(growing.info).toBeNull();
    expect(driftCheckFor(growing.planned()!, { recorded, overwrite: false, skipUnchanged: true }))
      .toEqual({ records: [{ path: 'conf/app.ini', sha256: sha('a') }], overwrite: false, mayBeUnchanged: false });
    // Without a plan (a package described by hand) there is nothing to go on before it is complete.
    expect(PackageFeed.growing('/nonexistent/package', 10, new Promise(() => undefined)).planned()).toBeNull();
  });

  const sha = (c: string) => c.repeat(64);
  const info = { size: 10, sha256: sha('f'), manifestPaths: ['conf/app.ini', 'bin/x.sh'], files: [{ path: 'conf/app.ini', sha256: sha('a'), size: 3 }, { path: 'bin/x.sh', sha256: sha('b'), size: 4 }] };

  it('sends the recorded hashes of the package files only, and lets a host stop when every file is recorded as in place', () => {
    const recorded = [{ path: 'conf/app.ini', sha256: sha('a'), size: 3 }, { path: 'bin/x.sh', sha256: sha('b'), size: 4 }, { path: 'old.txt', sha256: sha('c'), size: 1 }];
    const check = driftCheckFor(info, { recorded, overwrite: false, skipUnchanged: true });
    expect(check).toEqual({ records: [{ path: 'conf/app.ini', sha256: sha('a') }, { path: 'bin/x.sh', sha256: sha('b') }], overwrite: false, mayBeUnchanged: true });
    const records = `${sha('a')} conf/app.ini\n${sha('b')} bin/x.sh\n`;
    expect(wirePrelude(check).toString()).toBe(`ferry-release 2\ncheck refuse skip ${records.length}\n${records}`);
    expect(driftCheckFor(info, { recorded, overwrite: true, skipUnchanged: false })).toMatchObject({ overwrite: true, mayBeUnchanged: false });
  });

  it('never skips a host missing a record or holding other bytes, and sends nothing without records', () => {
    expect(driftCheckFor(info, { recorded: [{ path: 'conf/app.ini', sha256: sha('a'), size: 3 }], overwrite: false, skipUnchanged: true })?.mayBeUnchanged).toBe(false);
    expect(driftCheckFor(info, { recorded: [{ path: 'conf/app.ini', sha256: sha('a'), size: 3 }, { path: 'bin/x.sh', sha256: sha('d'), size: 4 }], overwrite: false, skipUnchanged: true })?.mayBeUnchanged).toBe(false);
    expect(driftCheckFor(info, { recorded: [{ path: 'old.txt', sha256: sha('c'), size: 1 }], overwrite: false, skipUnchanged: true })).toBeNull();
    expect(wirePrelude(null).toString()).toBe('ferry-release 2\ncheck refuse keep 0\n');
  });

  it('says plainly which files were edited by hand', () => {
    expect(driftRefusal(['conf/app.ini', 'bin/x.sh'])).toBe('2 files on this host were edited by hand since Ferry\'s last release (conf/app.ini, bin/x.sh); nothing was changed. Publish again with "overwrite hand edits" ticked to replace them.');
    expect(driftRefusal(['conf/app.ini'])).toMatch(/^1 file on this host was edited by hand .*\(conf\/app.ini\).*replace it\.$/);
  });
});
