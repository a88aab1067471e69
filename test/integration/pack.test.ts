import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTarEntries, looksCompressible, packDirectory, PackError } from '../../src/deploy/pack/index.ts';
import { runFile } from '../../src/lib/exec.ts';

let work: string;
let src: string;
const longName = `${'deep/'.repeat(25)}${'n'.repeat(120)}.txt`;

const files: Record<string, { content: Buffer | string; mode: number }> = {
  'a.txt': { content: 'hello\n', mode: 0o644 },
  'bin/run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
  'with space/read me.txt': { content: 'spaces\n', mode: 0o644 },
  '配置/服务器.txt': { content: '服务器 = 127.0.0.1\n', mode: 0o600 },
  'shared/group.txt': { content: 'group writable\n', mode: 0o664 },
  'empty.txt': { content: '', mode: 0o644 },
  'data/random.bin': { content: randomBytes(1024 * 1024 + 7), mode: 0o640 },
  [longName]: { content: 'long path\n', mode: 0o644 },
};

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-pack-test-'));
  src = join(work, 'src');
  for (const [path, file] of Object.entries(files)) {
    await mkdir(join(src, path, '..'), { recursive: true });
    await writeFile(join(src, path), file.content);
    await chmod(join(src, path), file.mode);
  }
  await mkdir(join(src, 'empty-dir'));
  await chmod(join(src, 'bin'), 0o750);
  await symlink('a.txt', join(src, 'link-to-a'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('packDirectory', () => {
  it('returns a manifest whose size, mode and sha256 match the files', async () => {
    const out = join(work, 'release.tar.gz');
    const result = await packDirectory(src, out, { revision: 42 });

    const expected = [...Object.keys(files), 'link-to-a'].sort();
    expect(result.manifest.map((m) => m.path).sort()).toEqual(expected);
    expect(result.fileCount).toBe(expected.length);
    expect(result.revision).toBe(42);
    for (const [path, file] of Object.entries(files)) {
      const entry = result.manifest.find((m) => m.path === path);
      expect(entry).toEqual({ path, size: Buffer.byteLength(file.content), mode: file.mode, sha256: sha256(file.content) });
    }
    expect(result.manifest.find((m) => m.path === 'link-to-a')).toMatchObject({ link: 'a.txt', size: 0, sha256: sha256('a.txt') });

    const archive = await readFile(out);
    expect(result.bytes).toBe(archive.length);
    expect(result.sha256).toBe(sha256(archive));

    expect(result.manifestFile).toBe(`${out}.manifest.json`);
    const written = JSON.parse(await readFile(`${out}.manifest.json`, 'utf8'));
    expect(written).toMatchObject({ revision: 42, archiveSha256: result.sha256, archiveBytes: result.bytes, fileCount: result.fileCount });
    expect(written.files).toEqual(result.manifest);
  });

  it('writes sorted, relative entries without owner information', async () => {
    const out = join(work, 'listed.tar.gz');
    await packDirectory(src, out, { revision: 1, manifestFile: false });
    const entries = await listTarEntries(out);
    const paths = entries.map((e) => e.path);
    expect(paths).toContain('bin/');
    expect(paths).toContain('empty-dir/');
    expect(paths).toContain('配置/服务器.txt');
    expect(paths).toContain(longName);
    for (const entry of entries) {
      expect(entry.path).not.toMatch(/^(\.\/|\/)/);
      expect(entry.uname).toBeNull();
      expect(entry.gname).toBeNull();
      expect(entry.uid ?? 0).toBe(0);
      expect(entry.gid ?? 0).toBe(0);
    }
    // A directory comes right before its contents, and siblings are in name order.
    expect(paths.indexOf('bin/')).toBe(paths.indexOf('bin/run.sh') - 1);
    expect(paths.slice(0, 3)).toEqual(['a.txt', 'bin/', 'bin/run.sh']);
    expect(entries.find((e) => e.path === 'bin/')?.mode).toBe(0o750);
    expect(entries.find((e) => e.path === 'shared/group.txt')?.mode).toBe(0o664);
    expect(entries.find((e) => e.path === 'link-to-a')).toMatchObject({ type: 'SymbolicLink', linkpath: 'a.txt' });
  });

  for (const compression of ['auto', 'gzip'] as const) it(`extracts (with node tar and GNU tar) to identical bytes and modes (compression ${compression})`, async () => {
    const out = join(work, `roundtrip-${compression}.pkg`);
    const result = await packDirectory(src, out, { revision: 7, compression });
    // Mostly a 1 MiB random file: gzip would save well under 5%, so "auto" leaves it a plain tar.
    expect(result.compression).toBe(compression === 'auto' ? 'none' : 'gzip');
    expect((await readFile(out)).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(compression === 'gzip');
    const byNode = join(work, `x-node-${compression}`);
    const byGnu = join(work, `x-gnu-${compression}`);
    await mkdir(byNode);
    await mkdir(byGnu);
    await extract({ file: out, cwd: byNode });
    // As the release program runs it: no -z, GNU tar recognises a gzipped package by itself.
    const gnu = await runFile('tar', ['-xf', out, '-C', byGnu, '--no-same-owner', '--same-permissions']);
    expect(gnu.stderr).toBe('');
    expect(gnu.code).toBe(0);

    // node tar lets the process umask apply to new files, so modes are checked on GNU tar's result (what targets run).
    for (const [path, file] of Object.entries(files)) {
      expect(sha256(await readFile(join(byNode, path)))).toBe(sha256(file.content));
      expect(sha256(await readFile(join(byGnu, path)))).toBe(sha256(file.content));
      expect((await stat(join(byGnu, path))).mode & 0o7777).toBe(file.mode);
    }
    expect((await stat(join(byGnu, 'bin'))).mode & 0o7777).toBe(0o750);
    for (const dir of [byNode, byGnu]) {
      expect((await stat(join(dir, 'empty-dir'))).isDirectory()).toBe(true);
      expect((await lstat(join(dir, 'link-to-a'))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(dir, 'link-to-a'))).toBe('a.txt');
    }
  });

  it('stores incompressible content and compresses the rest, in a gzip stream every reader accepts', async () => {
    const mixed = join(work, 'mixed');
    await mkdir(join(mixed, 'assets'), { recursive: true });
    const noise = randomBytes(3 * 1024 * 1024);
    const text = Array.from({ length: 60_000 }, (_, i) => `zone_${i % 50} = spawn rate ${i % 7}`).join('\n');
    // Text, then noise, then text again inside one directory: the archive switches members twice or more.
    await writeFile(join(mixed, 'a-config.txt'), text);
    await writeFile(join(mixed, 'assets', 'pack.bin'), noise);
    await writeFile(join(mixed, 'z-config.txt'), text);
    const out = join(work, 'mixed.tar.gz');
    const result = await packDirectory(mixed, out, { revision: 1, manifestFile: false });
    expect(result.compression).toBe('gzip');
    // The noise is stored (barely larger than itself), the text shrinks to a fraction.
    expect(result.bytes).toBeGreaterThan(noise.length);
    expect(result.bytes).toBeLessThan(noise.length + 0.15 * 2 * text.length);
    expect((await runFile('gzip', ['-t', out])).code).toBe(0);
    const byGnu = join(work, 'x-mixed');
    await mkdir(byGnu);
    const gnu = await runFile('tar', ['-xzf', out, '-C', byGnu]);
    expect(gnu.stderr).toBe('');
    expect(sha256(await readFile(join(byGnu, 'assets', 'pack.bin')))).toBe(sha256(noise));
    expect(await readFile(join(byGnu, 'z-config.txt'), 'utf8')).toBe(text);
    expect((await listTarEntries(out)).map((e) => e.path)).toEqual(['a-config.txt', 'assets/', 'assets/pack.bin', 'z-config.txt']);
  });

  it('leaves a small package (a config push) a plain tar: no gzip process on every host for a few KiB', async () => {
    const small = join(work, 'small');
    await mkdir(join(small, 'conf'), { recursive: true });
    await writeFile(join(small, 'conf', 'app.ini'), 'spawn_rate = 5\n'.repeat(2000));
    const out = join(work, 'small.pkg');
    const result = await packDirectory(small, out, { revision: 1, manifestFile: false });
    expect(result.compression).toBe('none');
    expect((await readFile(out)).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false);
    // Twice the text (past 64 KiB of tar) compresses again.
    await writeFile(join(small, 'conf', 'app.ini'), 'spawn_rate = 5\n'.repeat(6000));
    expect((await packDirectory(small, join(work, 'small2.pkg'), { revision: 1, manifestFile: false })).compression).toBe('gzip');
  });

  it('fails cleanly, without hanging, when the package cannot be written (disk full)', async () => {
    // /dev/full answers every write with ENOSPC; the 1 MiB random file makes the packer switch gzip members too.
    await expect(packDirectory(src, '/dev/full', { revision: 1, manifestFile: false })).rejects.toThrow(/ENOSPC|no space/i);
  });

  it('tells compressible content from noise by a sample', () => {
    expect(looksCompressible(randomBytes(1024 * 1024))).toBe(false);
    expect(looksCompressible(Buffer.from('level = 1\n'.repeat(100_000)))).toBe(true);
    expect(looksCompressible(randomBytes(1000))).toBe(true); // too small to bother: compressed with the rest
  });

  it('produces the same archive when packing the same tree twice', async () => {
    const first = await packDirectory(src, join(work, 'same-1.tar.gz'), { revision: 3, manifestFile: false });
    const second = await packDirectory(src, join(work, 'same-2.tar.gz'), { revision: 3, manifestFile: false });
    expect(second.sha256).toBe(first.sha256);
  });

  it('packs an empty directory into a valid, empty archive', async () => {
    const empty = join(work, 'nothing');
    await mkdir(empty);
    const result = await packDirectory(empty, join(work, 'nothing.tar.gz'), { revision: 1, manifestFile: false });
    expect(result.fileCount).toBe(0);
    expect(await listTarEntries(join(work, 'nothing.tar.gz'))).toEqual([]);
  });

  it('refuses special files such as FIFOs', async () => {
    const odd = join(work, 'odd');
    await mkdir(odd);
    const made = await runFile('mkfifo', [join(odd, 'pipe')]);
    expect(made.code).toBe(0);
    await expect(packDirectory(odd, join(work, 'odd.tar.gz'), { revision: 1 })).rejects.toBeInstanceOf(PackError);
  });

  it('streams a large file without holding it in memory', async () => {
    const big = join(work, 'big');
    await mkdir(big);
    const size = 512 * 1024 * 1024;
    await writeFile(join(big, 'huge.bin'), '');
    await truncate(join(big, 'huge.bin'), size);
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    try {
      const result = await packDirectory(big, join(work, 'big.tar.gz'), { revision: 1, manifestFile: false, gzipLevel: 1 });
      expect(result.manifest[0]).toMatchObject({ path: 'huge.bin', size });
    } finally {
      clearInterval(sampler);
    }
    expect(peak - before).toBeLessThan(128 * 1024 * 1024);
  });
});
