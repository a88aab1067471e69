// Publish and rollback against a real sshd on 127.0.0.1; the "target" is this machine, so trees are checked with fs.
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { forEachHostLimited } from '../../src/deploy/remote.ts';
import { publishToHost, rollbackHost, type PublishOptions, type PublishPhase } from '../../src/deploy/release.ts';
import { PackageFeed, type PackageInfo } from '../../src/deploy/release/feed.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import type { RemoteSession } from '../../src/deploy/types.ts';
import { mountTmpfs } from '../helpers/capabilities.ts';
import { startSshd, startTcpProxy, type SshdHandle } from '../kit/sshd.ts';

type FileSpec = string | Buffer | { content: string | Buffer; mode: number };

const transport = createSshTransport();
let sshd: SshdHandle;
let session: RemoteSession;
let workDir: string;
let nextJobId = 100;
let caseNumber = 0;

beforeAll(async () => {
  sshd = await startSshd();
  session = await transport.connect(sshd.target());
  workDir = mkdtempSync(join(sshd.rootDir, 'packages-'));
});
afterAll(async () => {
  await session?.close();
  await sshd?.stop();
});

/** A fresh deploy directory on the target (under a path with a space and Chinese characters), pre-filled. */
function deployDirWith(files: Record<string, FileSpec>): string {
  const dir = join(sshd.dir, `case ${++caseNumber} 目录`);
  mkdirSync(dir, { recursive: true });
  writeFiles(dir, files);
  return dir;
}

function writeFiles(root: string, files: Record<string, FileSpec>): void {
  for (const [path, spec] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    const { content, mode } = typeof spec === 'string' || Buffer.isBuffer(spec) ? { content: spec, mode: 0o644 } : spec;
    writeFileSync(full, content);
    chmodSync(full, mode);
  }
}

/** Builds a tar.gz with the tar package, as the pack step would: file entries only, modes kept. */
async function makePackage(files: Record<string, FileSpec>): Promise<{ packagePath: string; packageSha256: string; manifestPaths: string[] }> {
  const buildDir = mkdtempSync(join(workDir, 'build-'));
  writeFiles(buildDir, files);
  const packagePath = `${buildDir}.tar.gz`;
  const manifestPaths = Object.keys(files);
  await createTar({ gzip: true, file: packagePath, cwd: buildDir }, manifestPaths);
  return { packagePath, packageSha256: sha256(readFileSync(packagePath)), manifestPaths };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every entry under root except .ferry/: type, mode and content hash (or link target). */
function treeOf(root: string): Record<string, string> {
  const tree: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (prefix === '' && name === '.ferry') continue;
      const full = join(dir, name);
      const rel = prefix + name;
      const stat = lstatSync(full);
      const mode = (stat.mode & 0o7777).toString(8);
      if (stat.isSymbolicLink()) tree[rel] = `link -> ${readlinkSync(full)}`;
      else if (stat.isDirectory()) {
        tree[`${rel}/`] = `dir ${mode}`;
        walk(full, `${rel}/`);
      } else tree[rel] = `file ${mode} ${sha256(readFileSync(full)).slice(0, 16)}`;
    }
  };
  walk(root, '');
  return tree;
}

function publish(deployDir: string, pkg: Awaited<ReturnType<typeof makePackage>>, extra: Partial<PublishOptions> = {}) {
  return publishToHost({ session, deployDir, jobId: ++nextJobId, ...pkg, ...extra });
}

const ORIGINAL: Record<string, FileSpec> = {
  'bin/run.sh': { content: '#!/bin/sh\necho old\n', mode: 0o755 },
  'conf/app.conf': { content: 'port=1\n', mode: 0o640 },
  'docs/read me.txt': 'old docs\n',
  '数据/配置 文件.conf': { content: '旧\n', mode: 0o600 },
  'untouched.txt': 'stays\n',
};

describe('publishToHost', () => {
  it('uploads, snapshots and extracts: files get the new bytes and modes, names with spaces and Chinese included', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const pkg = await makePackage({
      'bin/run.sh': { content: '#!/bin/sh\necho new\n', mode: 0o700 },
      'conf/app.conf': { content: 'port=2\n', mode: 0o644 },
      '数据/配置 文件.conf': { content: '新\n', mode: 0o644 },
      "new dir/it's new.txt": { content: 'added\n', mode: 0o600 },
      '-dash.txt': 'leading dash\n',
    });
    const phases: PublishPhase[] = [];
    let snapshotNoticed = false;
    const result = await publish(deployDir, pkg, { onPhase: (p) => phases.push(p), onSnapshotTaken: () => { snapshotNoticed = true; } });

    expect(result).toEqual({ ok: true, phase: 'done', snapshotTaken: true, restored: false, warnings: [] });
    expect(phases).toEqual(['uploading', 'snapshot', 'extracting', 'cleanup', 'done']);
    expect(snapshotNoticed).toBe(true);
    const tree = treeOf(deployDir);
    expect(readFileSync(join(deployDir, 'bin/run.sh'), 'utf8')).toBe('#!/bin/sh\necho new\n');
    expect(tree['bin/run.sh']).toMatch(/^file 700 /);
    expect(tree['conf/app.conf']).toMatch(/^file 644 /);
    expect(readFileSync(join(deployDir, '数据/配置 文件.conf'), 'utf8')).toBe('新\n');
    expect(tree["new dir/it's new.txt"]).toMatch(/^file 600 /);
    // A directory the package does not hold is made with the login's umask (022 here), not Ferry's own 077.
    expect(tree['new dir/']).toBe('dir 755');
    expect(readFileSync(join(deployDir, '-dash.txt'), 'utf8')).toBe('leading dash\n');
    expect(readFileSync(join(deployDir, 'untouched.txt'), 'utf8')).toBe('stays\n');

    const jobId = nextJobId;
    const ferry = join(deployDir, '.ferry');
    expect(readdirSync(join(ferry, 'incoming'))).toEqual([]);
    expect(existsSync(join(ferry, 'snapshots', `${jobId}.tar.gz`))).toBe(true);
    // The snapshot holds copies of the files it replaced: readable by the login user alone.
    for (const file of [`snapshots/${jobId}.tar.gz`, `snapshots/${jobId}.created`, `journal/${jobId}.files`]) {
      expect((lstatSync(join(ferry, file)).mode & 0o777).toString(8)).toBe('600');
    }
    const created = readFileSync(join(ferry, 'snapshots', `${jobId}.created`), 'utf8').split('\0').filter(Boolean);
    expect(created.sort()).toEqual(['-dash.txt', 'new dir', "new dir/it's new.txt"].sort());
    expect(readFileSync(join(ferry, 'journal', `${jobId}.files`), 'utf8').split('\n').filter(Boolean).sort()).toEqual([...pkg.manifestPaths].sort());
  });

  it('rollback restores overwritten files with their modes and removes added files and directories', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const before = treeOf(deployDir);
    const pkg = await makePackage({
      'bin/run.sh': { content: 'changed', mode: 0o600 },
      '数据/配置 文件.conf': { content: '新\n', mode: 0o755 },
      'a/b/c/deep file.txt': 'deep\n',
      'conf/extra.conf': 'extra\n',
    });
    expect((await publish(deployDir, pkg)).ok).toBe(true);
    expect(treeOf(deployDir)).not.toEqual(before);

    const rollback = await rollbackHost({ session, deployDir, jobIds: [nextJobId] });
    expect(rollback).toEqual({ ok: true, restoredJobIds: [nextJobId] });
    expect(treeOf(deployDir)).toEqual(before);
  });

  it('keeps a directory that is a symlink on the target and stays inside it, through publish and rollback', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const shared = join(deployDir, 'shared', 'conf');
    mkdirSync(shared, { recursive: true });
    writeFileSync(join(shared, 'secret.ini'), 'kept\n');
    writeFileSync(join(shared, 'app.ini'), 'old\n');
    rmSync(join(deployDir, 'conf'), { recursive: true });
    symlinkSync('shared/conf', join(deployDir, 'conf'));
    const before = treeOf(deployDir);
    expect((await publish(deployDir, await makePackage({ 'conf/app.ini': 'new\n' }))).ok).toBe(true);
    expect(lstatSync(join(deployDir, 'conf')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(shared, 'app.ini'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(shared, 'secret.ini'), 'utf8')).toBe('kept\n');
    expect(await rollbackHost({ session, deployDir, jobIds: [nextJobId] })).toEqual({ ok: true, restoredJobIds: [nextJobId] });
    expect(treeOf(deployDir)).toEqual(before);
    expect(readFileSync(join(shared, 'app.ini'), 'utf8')).toBe('old\n');
  });

  it('refuses a host whose directory is a symlink leading outside the deploy directory, changing nothing', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const outside = mkdtempSync(join(tmpdir(), 'ferry-linked-conf-'));
    writeFileSync(join(outside, 'app.ini'), 'old\n');
    rmSync(join(deployDir, 'conf'), { recursive: true });
    symlinkSync(outside, join(deployDir, 'conf'));
    const before = treeOf(deployDir);
    const result = await publish(deployDir, await makePackage({ 'conf/app.ini': 'new\n', 'bin/run.sh': 'new\n' }));
    expect(result).toMatchObject({ ok: false, phase: 'snapshot', snapshotTaken: false });
    expect(result.error).toBe(`"conf" on ${session.hostName} is a symbolic link to ${outside}, outside the deploy directory; Ferry does not write, snapshot or delete through it — nothing was changed on this host`);
    expect(readFileSync(join(outside, 'app.ini'), 'utf8')).toBe('old\n');
    expect(treeOf(deployDir)).toEqual(before);
    expect(readdirSync(join(deployDir, '.ferry', 'incoming'))).toEqual([]);
    rmSync(outside, { recursive: true, force: true });
  });

  it('two stacked publishes rolled back newest first give back exactly the original tree', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const before = treeOf(deployDir);
    const first = await makePackage({ 'bin/run.sh': { content: 'v1', mode: 0o711 }, 'lib/one.js': 'one', 'docs/read me.txt': 'v1 docs' });
    const second = await makePackage({ 'bin/run.sh': { content: 'v2', mode: 0o755 }, 'lib/one.js': 'one v2', 'lib/two/二.js': 'two', 'conf/app.conf': { content: 'v2', mode: 0o600 } });
    expect((await publish(deployDir, first)).ok).toBe(true);
    const firstId = nextJobId;
    const afterFirst = treeOf(deployDir);
    expect((await publish(deployDir, second)).ok).toBe(true);
    const secondId = nextJobId;

    const onlyNewest = await rollbackHost({ session, deployDir, jobIds: [secondId] });
    expect(onlyNewest.ok).toBe(true);
    expect(treeOf(deployDir)).toEqual(afterFirst);

    expect((await publish(deployDir, second)).ok).toBe(true);
    const result = await rollbackHost({ session, deployDir, jobIds: [firstId, nextJobId] });
    expect(result).toEqual({ ok: true, restoredJobIds: [nextJobId, firstId] });
    expect(treeOf(deployDir)).toEqual(before);
  });

  it('a package with the wrong checksum fails at upload and changes nothing', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const before = treeOf(deployDir);
    const pkg = await makePackage({ 'bin/run.sh': 'evil' });
    const result = await publish(deployDir, { ...pkg, packageSha256: 'ab'.repeat(32) });
    expect(result).toMatchObject({ ok: false, phase: 'uploading', snapshotTaken: false, restored: false });
    expect(result.error).toMatch(/the uploaded package is damaged \(sha256 [0-9a-f]{12}…, expected abababababab…\); nothing was changed/);
    expect(treeOf(deployDir)).toEqual(before);
    expect(readdirSync(join(deployDir, '.ferry', 'incoming'))).toEqual([]);
    expect(readdirSync(join(deployDir, '.ferry', 'snapshots'))).toEqual([]);
  });

  it('a connection dropped during upload fails before anything in deployDir changed', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const before = treeOf(deployDir);
    const pkg = await makePackage({ 'bin/run.sh': 'new', 'big.bin': randomBytes(8 * 1024 * 1024) });
    const proxy = await startTcpProxy(sshd.port);
    const flaky = await transport.connect(sshd.target({ port: proxy.port }));
    try {
      let dropped = false;
      const result = await publishToHost({
        session: flaky,
        deployDir,
        jobId: ++nextJobId,
        ...pkg,
        onUploadProgress: (sent) => {
          if (!dropped && sent > 1024 * 1024) {
            dropped = true;
            proxy.dropAll();
          }
        },
      });
      expect(result).toMatchObject({ ok: false, phase: 'uploading', snapshotTaken: false });
      expect(result.error).toMatch(/connection to .* was lost/);
      expect(treeOf(deployDir)).toEqual(before);
      expect(existsSync(join(deployDir, '.ferry', 'incoming', `${nextJobId}.pkg`))).toBe(false);
    } finally {
      await flaky.close();
      await proxy.close();
    }
  });

  it('starts sending while the package is still being written, and publishes it whole once it is complete', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const pkg = await makePackage({ 'bin/run.sh': 'streamed\n', 'big.bin': randomBytes(6 * 1024 * 1024) });
    const whole = readFileSync(pkg.packagePath);
    const growing = join(workDir, `growing-${++caseNumber}.tar.gz`);
    writeFileSync(growing, whole.subarray(0, 3 * 1024 * 1024));
    let finish!: () => void;
    const done = new Promise<PackageInfo>((resolve) => {
      finish = () => {
        appendFileSync(growing, whole.subarray(3 * 1024 * 1024));
        resolve({ size: whole.length, sha256: pkg.packageSha256, manifestPaths: pkg.manifestPaths });
      };
    });
    let sentBeforeComplete = 0;
    let completed = false;
    const publishing = publish(deployDir, pkg, {
      feed: PackageFeed.growing(growing, whole.length, done),
      onUploadProgress: (sent) => {
        if (!completed) sentBeforeComplete = Math.max(sentBeforeComplete, sent);
      },
    });
    await vi.waitFor(() => expect(sentBeforeComplete).toBeGreaterThanOrEqual(2 * 1024 * 1024), { timeout: 10_000 });
    completed = true;
    finish();
    const result = await publishing;
    expect(result, result.error).toMatchObject({ ok: true, phase: 'done' });
    expect(readFileSync(join(deployDir, 'bin/run.sh'), 'utf8')).toBe('streamed\n');
    expect(sha256(readFileSync(join(deployDir, 'big.bin')))).toBe(sha256(readFileSync(join(pkg.packagePath.replace(/\.tar\.gz$/, ''), 'big.bin'))));
  });

  it('packing that fails while a host is receiving fails the host and changes nothing on it', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const before = treeOf(deployDir);
    const pkg = await makePackage({ 'bin/run.sh': 'never\n', 'big.bin': randomBytes(4 * 1024 * 1024) });
    const growing = join(workDir, `failing-${++caseNumber}.tar.gz`);
    writeFileSync(growing, readFileSync(pkg.packagePath).subarray(0, 2 * 1024 * 1024));
    let fail!: (err: Error) => void;
    const done = new Promise<PackageInfo>((_, reject) => {
      fail = reject;
    });
    let sent = 0;
    const publishing = publish(deployDir, pkg, { feed: PackageFeed.growing(growing, 4 * 1024 * 1024, done), onUploadProgress: (n) => { sent = n; } });
    await vi.waitFor(() => expect(sent).toBeGreaterThan(0), { timeout: 10_000 });
    fail(new Error('"big.bin" changed while it was being packed'));
    const result = await publishing;
    expect(result).toMatchObject({ ok: false, phase: 'uploading', snapshotTaken: false });
    expect(result.error).toContain('"big.bin" changed while it was being packed');
    expect(treeOf(deployDir)).toEqual(before);
    // The host's program stops at the cut stream (it may not even have created .ferry yet): nothing is left behind.
    const incoming = join(deployDir, '.ferry', 'incoming');
    await vi.waitFor(() => expect(existsSync(incoming) ? readdirSync(incoming) : []).toEqual([]), { timeout: 5_000 });
  });

  it('restores the snapshot by itself when extraction fails (a file where a directory is needed)', async () => {
    const deployDir = deployDirWith({ ...ORIGINAL, 'plugins': 'a plain file in the way\n' });
    const before = treeOf(deployDir);
    const pkg = await makePackage({ 'bin/run.sh': { content: 'new', mode: 0o700 }, 'added.txt': 'added', 'plugins/p1.js': 'plugin' });
    const phases: PublishPhase[] = [];
    const result = await publish(deployDir, pkg, { onPhase: (p) => phases.push(p) });
    expect(result).toMatchObject({ ok: false, phase: 'extracting', snapshotTaken: true, restored: true });
    expect(result.error).toMatch(/^extracting the package failed: .*plugins\/p1\.js: Cannot open: Not a directory — the previous files were restored from the snapshot$/);
    expect(phases).toEqual(['uploading', 'snapshot', 'extracting']);
    expect(treeOf(deployDir)).toEqual(before);
    expect(readdirSync(join(deployDir, '.ferry', 'incoming'))).toEqual([]);
  });

  it('restores the snapshot by itself when the disk fills up during extraction (tmpfs)', async (ctx) => {
    const deployDir = join(sshd.rootDir, `tmpfs ${++caseNumber} 满`);
    mkdirSync(deployDir);
    const unmount = mountTmpfs(ctx, deployDir, '1m');
    try {
      writeFiles(deployDir, ORIGINAL);
      const before = treeOf(deployDir);
      // Zeros compress to almost nothing, so upload and snapshot fit; unpacking 3 MB does not.
      const pkg = await makePackage({ 'bin/run.sh': 'new', 'aaa-first.txt': 'first', 'zz-huge.bin': Buffer.alloc(3 * 1024 * 1024) });
      const result = await publish(deployDir, pkg);
      expect(result).toMatchObject({ ok: false, phase: 'extracting', snapshotTaken: true, restored: true });
      expect(result.error).toMatch(/No space left on device/);
      expect(treeOf(deployDir)).toEqual(before);
    } finally {
      unmount();
    }
  });

  it('runs after-publish hooks in deployDir with FERRY_* and FERRY_FILES; a failing hook fails the host with its output', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const pkg = await makePackage({ 'bin/run.sh': 'new', '数据/新 文件.txt': 'x' });
    const ok = await publish(deployDir, pkg, {
      hookEnv: { FERRY_JOB_ID: 'custom', FERRY_PROJECT: "it's mine" },
      hooks: { afterPublish: [{ name: 'record', script: 'pwd > hook.out; echo "$FERRY_PROJECT|$FERRY_STAGE" >> hook.out; cat "$FERRY_FILES" >> hook.out' }] },
    });
    expect(ok.ok).toBe(true);
    expect(readFileSync(join(deployDir, 'hook.out'), 'utf8')).toBe(`${deployDir}\nit's mine|after-publish\nbin/run.sh\n数据/新 文件.txt\n`);

    const output: string[] = [];
    const failing = await publish(deployDir, pkg, {
      onOutput: (chunk) => output.push(chunk),
      hooks: { afterPublish: [{ name: 'migrate', script: 'echo migrating; echo "db down" >&2; exit 7' }, { script: 'touch should-not-run' }] },
    });
    expect(failing).toMatchObject({ ok: false, phase: 'hooks', snapshotTaken: true, exitCode: 7, error: 'after-publish hook "migrate" exited with code 7' });
    expect(failing.hookOutput).toContain('migrating\n');
    expect(failing.hookOutput).toContain('db down\n');
    expect(output.join('')).toContain('migrating');
    expect(existsSync(join(deployDir, 'should-not-run'))).toBe(false);
  });

  it('keeps the newest N snapshots and never the protected one', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const pkg = await makePackage({ 'bin/run.sh': `v${i}` });
      const protectJobId = ids[0] ?? null;
      expect((await publish(deployDir, pkg, { keepSnapshots: 2, protectJobId })).ok).toBe(true);
      ids.push(nextJobId);
    }
    const snapshots = readdirSync(join(deployDir, '.ferry', 'snapshots')).sort();
    const expected = [ids[0], ids[3], ids[4]].flatMap((id) => [`${id}.created`, `${id}.tar.gz`]).sort();
    expect(snapshots).toEqual(expected);
    expect(readdirSync(join(deployDir, '.ferry', 'journal')).sort()).toEqual([ids[0], ids[3], ids[4]].map((id) => `${id}.files`).sort());
  });

  it('prunes by job number, not by name: 9 is older than 10 and 100', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const snapshots = join(deployDir, '.ferry', 'snapshots');
    mkdirSync(snapshots, { recursive: true });
    mkdirSync(join(deployDir, '.ferry', 'journal'), { recursive: true });
    for (const id of [9, 10, 100]) {
      writeFileSync(join(snapshots, `${id}.tar.gz`), '');
      writeFileSync(join(snapshots, `${id}.created`), '');
    }
    const pkg = await makePackage({ 'bin/run.sh': 'v1' });
    expect((await publish(deployDir, pkg, { jobId: 12, keepSnapshots: 3 })).ok).toBe(true);
    expect(readdirSync(snapshots).filter((f) => f.endsWith('.tar.gz')).sort()).toEqual(['10.tar.gz', '100.tar.gz', '12.tar.gz']);
  });

  it('puts back the mode of an existing directory that the package carried with another mode', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    chmodSync(join(deployDir, 'conf'), 0o750);
    const before = treeOf(deployDir);
    // A package like pack.ts builds: the directory entry itself (mode 0755) plus the file.
    const buildDir = mkdtempSync(join(workDir, 'build-'));
    writeFiles(buildDir, { 'conf/app.conf': 'port=2\n' });
    chmodSync(join(buildDir, 'conf'), 0o755);
    const packagePath = `${buildDir}.tar.gz`;
    await createTar({ gzip: true, file: packagePath, cwd: buildDir }, ['conf']);
    const pkg = { packagePath, packageSha256: sha256(readFileSync(packagePath)), manifestPaths: ['conf/app.conf'] };
    expect((await publish(deployDir, pkg)).ok).toBe(true);
    expect(lstatSync(join(deployDir, 'conf')).mode & 0o777).toBe(0o755);
    expect((await rollbackHost({ session, deployDir, jobIds: [nextJobId] })).ok).toBe(true);
    expect(treeOf(deployDir)).toEqual(before);
  });

  it('leaves the snapshots of another project that shares the deploy directory alone when pruning', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    const snapshotsDir = join(deployDir, '.ferry', 'snapshots');
    mkdirSync(snapshotsDir, { recursive: true });
    for (const id of [1, 2]) writeFileSync(join(snapshotsDir, `${id}.tar.gz`), 'old snapshot');
    expect((await publish(deployDir, await makePackage({ 'bin/run.sh': 'x' }), { keepSnapshots: 1, foreignJobIds: [1] })).ok).toBe(true);
    const left = readdirSync(snapshotsDir).filter((f) => f.endsWith('.tar.gz')).sort();
    expect(left).toEqual(['1.tar.gz', `${nextJobId}.tar.gz`].sort());
  });

  it('publishes to several hosts with bounded concurrency; one failure does not stop the others', async () => {
    const dirs = [deployDirWith(ORIGINAL), deployDirWith(ORIGINAL), deployDirWith(ORIGINAL)];
    const pkg = await makePackage({ 'bin/run.sh': 'fleet' });
    let running = 0;
    let maxRunning = 0;
    const results = await forEachHostLimited(dirs, 2, async (deployDir, index) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        if (index === 1) throw new Error('host 1 is broken');
        return await publish(deployDir, pkg);
      } finally {
        running--;
      }
    });
    expect(maxRunning).toBe(2);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(readFileSync(join(dirs[2], 'bin/run.sh'), 'utf8')).toBe('fleet');
  });
});

describe('rollbackHost', () => {
  it('fails and changes nothing when a snapshot is missing', async () => {
    const deployDir = deployDirWith(ORIGINAL);
    expect((await publish(deployDir, await makePackage({ 'bin/run.sh': 'v1', 'x.txt': 'x' }))).ok).toBe(true);
    const firstId = nextJobId;
    expect((await publish(deployDir, await makePackage({ 'bin/run.sh': 'v2', 'y.txt': 'y' }))).ok).toBe(true);
    const secondId = nextJobId;
    rmSync(join(deployDir, '.ferry', 'snapshots', `${firstId}.tar.gz`));
    const before = treeOf(deployDir);

    const phases: string[] = [];
    const result = await rollbackHost({ session, deployDir, jobIds: [secondId, firstId], onPhase: (p) => phases.push(p) });
    expect(result).toEqual({ ok: false, restoredJobIds: [], error: `snapshot of job ${firstId} is missing on this host — nothing was changed` });
    expect(phases).toEqual(['checking']);
    expect(treeOf(deployDir)).toEqual(before);
  });
});

describe('hand edits', () => {
  it('a file edited, deleted or replaced by a directory since Ferry put it there stops the publish before anything is received', async () => {
    const dir = deployDirWith({ 'conf/a.ini': 'edited by hand\n', 'conf/same.ini': 'same\n' });
    mkdirSync(join(dir, 'conf/dir.ini'));
    const content: Record<string, string> = { 'conf/a.ini': 'new\n', 'conf/same.ini': 'same\n', 'conf/gone.ini': 'x\n', 'conf/dir.ini': 'y\n' };
    const pkg = await makePackage(content);
    const files = Object.entries(content).map(([path, text]) => ({ path, sha256: sha256(Buffer.from(text)), size: text.length }));
    const feed = PackageFeed.finished(pkg.packagePath, { size: readFileSync(pkg.packagePath).length, sha256: pkg.packageSha256, manifestPaths: pkg.manifestPaths, files });
    const recorded = ['conf/a.ini', 'conf/same.ini', 'conf/gone.ini', 'conf/dir.ini'].map((path) => ({ path, sha256: sha256(Buffer.from(path === 'conf/same.ini' ? 'same\n' : 'old\n')), size: 4 }));
    const before = treeOf(dir);
    const result = await publishToHost({ session, deployDir: dir, jobId: nextJobId++, feed, drift: { recorded, overwrite: false, skipUnchanged: true } });
    expect(result).toMatchObject({ ok: false, snapshotTaken: false, drifted: ['conf/a.ini', 'conf/gone.ini', 'conf/dir.ini'] });
    expect(result.error).toBe('3 files on this host were edited by hand since Ferry\'s last release (conf/a.ini, conf/gone.ini, conf/dir.ini); nothing was changed. Publish again with "overwrite hand edits" ticked to replace them.');
    expect(treeOf(dir)).toEqual(before);
    expect(readdirSync(join(dir, '.ferry', 'incoming'))).toEqual([]);
    expect(readdirSync(join(dir, '.ferry', 'snapshots'))).toEqual([]);
  });

  it('a host where every recorded file is gone is refused too, not judged unchanged (nothing to hash at all)', async () => {
    const dir = deployDirWith({});
    const content: Record<string, string> = { 'conf/a.ini': 'new\n', 'conf/b.ini': 'b\n' };
    const pkg = await makePackage(content);
    const files = Object.entries(content).map(([path, text]) => ({ path, sha256: sha256(Buffer.from(text)), size: text.length }));
    const feed = PackageFeed.finished(pkg.packagePath, { size: readFileSync(pkg.packagePath).length, sha256: pkg.packageSha256, manifestPaths: pkg.manifestPaths, files });
    // Ferry's record says this very package is in place: a skip candidate whose files were all deleted.
    const result = await publishToHost({ session, deployDir: dir, jobId: nextJobId++, feed, drift: { recorded: files, overwrite: false, skipUnchanged: true } });
    expect(result).toMatchObject({ ok: false, snapshotTaken: false, drifted: ['conf/a.ini', 'conf/b.ini'] });
    const overwritten = await publishToHost({ session, deployDir: dir, jobId: nextJobId++, feed, drift: { recorded: files, overwrite: true, skipUnchanged: true } });
    expect(overwritten.ok, overwritten.error).toBe(true);
    expect(readFileSync(join(dir, 'conf/a.ini'), 'utf8')).toBe('new\n');
  });
});
