import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFile, mkdtemp, open, readdir, readFile, rm, stat, statfs, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTarEntries, packDirectory, PackError, type PackResult } from '../../src/deploy/pack/index.ts';
import { PackageFeed } from '../../src/deploy/release/feed.ts';
import { ReleaseCacheError, ReleaseSource, type PackingStarted, type PreparedPackage, type PrepareRequest, type ReleaseSourceLimits } from '../../src/deploy/source.ts';
import { SvnClient, SvnError, type SvnRepository } from '../../src/deploy/svn/index.ts';
import { workingCopyName } from '../../src/deploy/working-copy.ts';
import { runFile, type RunFile } from '../../src/lib/exec.ts';
import { mountTmpfs } from '../helpers/capabilities.ts';
import { startSvnServer, type SvnServer } from '../kit/svnserve.ts';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
let server: SvnServer;
let work: string;
let trunk: SvnRepository;
const revs: Record<string, number> = {};
let counter = 0;

const KEYWORDS = '$Id$\n$URL$\n$Revision$\n$Date$\n$Author$\nplain line\n';
/** Most of what a release can hold: odd names, modes, keywords, needs-lock, a link, a deep file, an unselected folder. */
const SELECTION = ['index.html', 'css', 'img/logo@2x.png', 'bin', '配置/服务器.txt', 'with space', 'kw.txt', 'locked.txt', 'link-to-css', 'deep/a/b/c.txt'];

beforeAll(async () => {
  server = await startSvnServer();
  work = await mkdtemp(join(tmpdir(), 'ferry-source-test-'));
  revs.first = await server.commit(
    {
      'trunk/index.html': '<h1>v1</h1>\n',
      'trunk/css/site.css': 'body { color: black }\n',
      'trunk/css/gone.css': 'deleted in r2\n',
      'trunk/img/logo@2x.png': randomBytes(3000),
      'trunk/bin/run.sh': { content: '#!/bin/sh\necho run\n', executable: true },
      'trunk/配置/服务器.txt': '服务器 = 127.0.0.1\n',
      'trunk/with space/read me.txt': 'spaces\n',
      'trunk/kw.txt': { content: KEYWORDS, props: { 'svn:keywords': 'Id URL Revision Date Author', 'svn:eol-style': 'CRLF' } },
      'trunk/locked.txt': { content: 'needs a lock\n', props: { 'svn:needs-lock': '*' } },
      'trunk/link-to-css': { link: 'css' },
      'trunk/deep/a/b/c.txt': 'deep\n',
      'trunk/deep/a/other.txt': 'not selected\n',
      'trunk/old.txt': 'deleted in r2\n',
      'trunk/docs/readme.txt': 'docs\n',
      'trunk/trap/out': { link: '../docs/../index.html' },
      'trunk/big/random.bin': randomBytes(200_000),
      'branches/v2/index.html': '<h1>branch</h1>\n',
      'branches/v2/kw.txt': { content: KEYWORDS, props: { 'svn:keywords': 'Id URL Revision Date Author' } },
    },
    'r1',
  );
  revs.second = await server.commit({ 'trunk/index.html': '<h1>v2</h1>\n', 'trunk/css/new.css': 'added in r2\n' }, 'r2', {
    delete: ['trunk/css/gone.css', 'trunk/old.txt'],
  });
  trunk = { url: `${server.url}/trunk`, username: server.username, password: server.password };
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface SvnCall {
  args: readonly string[];
  start: number;
  end: number;
}

/** A RunFile that records every call, and holds some back (for `hold` ms, or until a promise settles) to make overlaps visible. */
function recording(hold: (args: readonly string[]) => number | Promise<unknown> = () => 0): { run: RunFile; calls: SvnCall[] } {
  const calls: SvnCall[] = [];
  const run: RunFile = async (file, args, opts) => {
    const start = performance.now();
    const held = hold(args);
    if (typeof held === 'number') await sleep(held);
    else await held;
    try {
      return await runFile(file, args, opts);
    } finally {
      calls.push({ args, start, end: performance.now() });
    }
  };
  return { run, calls };
}

function newSource(opts: { runFile?: RunFile; limits?: Partial<ReleaseSourceLimits>; cacheDir?: string } = {}): { source: ReleaseSource; cacheDir: string } {
  const cacheDir = opts.cacheDir ?? join(work, `cache-${++counter}`);
  return { source: new ReleaseSource({ runFile: opts.runFile ?? runFile, logger: quiet, cacheDir, limits: opts.limits }), cacheDir };
}

async function request(fields: Partial<PrepareRequest> & { files: readonly string[] }): Promise<PrepareRequest> {
  return { projectKey: 'project-1', svn: trunk, revision: revs.first, workDir: await mkdtemp(join(work, 'job-')), ...fields };
}

const wcDir = (cacheDir: string, projectKey = 'project-1') => join(cacheDir, 'svn', workingCopyName(projectKey));

/** Today's path: svn export of the selection, then packDirectory. */
async function exportAndPack(files: readonly string[], revision: number, repo: SvnRepository = trunk): Promise<PackResult & { path: string }> {
  const dir = await mkdtemp(join(work, 'export-'));
  await new SvnClient(repo, runFile).exportSelection(files, revision, join(dir, 'export'));
  const path = join(dir, 'release.tar.gz');
  return { ...(await packDirectory(join(dir, 'export'), path, { revision, manifestFile: false })), path };
}

/** Everything a host gets from a package except times: entries in order with type, mode and link, and file contents. */
async function contentsOf(packagePath: string): Promise<unknown[]> {
  const dir = await mkdtemp(join(work, 'extract-'));
  await extract({ file: packagePath, cwd: dir });
  const entries = await listTarEntries(packagePath);
  return Promise.all(
    entries.map(async (e) => ({
      path: e.path, type: e.type, mode: e.mode, link: e.linkpath,
      sha256: e.type === 'File' ? createHash('sha256').update(await readFile(join(dir, e.path))).digest('hex') : null,
    })),
  );
}

async function expectSameAsExport(prepared: PreparedPackage, files: readonly string[], revision: number, repo: SvnRepository = trunk): Promise<void> {
  const exported = await exportAndPack(files, revision, repo);
  expect(prepared.revision).toBe(revision);
  expect(prepared.manifest).toEqual(exported.manifest);
  expect(prepared.fileCount).toBe(exported.fileCount);
  expect(await contentsOf(prepared.packagePath)).toEqual(await contentsOf(exported.path));
  const bytes = await readFile(prepared.packagePath);
  expect(prepared.bytes).toBe(bytes.length);
  expect(prepared.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

async function svnIn(dir: string, args: string[]): Promise<string> {
  const result = await runFile('svn', args, { cwd: dir, env: { LC_ALL: 'C.UTF-8' } });
  if (result.code !== 0) throw new Error(result.stderr);
  return result.stdout;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

describe('ReleaseSource builds from a working copy', () => {
  it('packs what svn export + pack produced: entries, modes, links, keywords, needs-lock, odd names', async () => {
    const { source, cacheDir } = newSource();
    const steps: string[] = [];
    const prepared = await source.prepare(await request({ files: SELECTION, onStep: (text) => steps.push(text) }));
    expect(prepared.reused).toBe(false);
    expect(steps).toEqual([expect.stringMatching(new RegExp(`^checked out r${revs.first} into a new working copy`))]);
    await expectSameAsExport(prepared, SELECTION, revs.first);
    expect(prepared.manifest.map((m) => m.path)).toContain('img/logo@2x.png');
    expect(prepared.manifest.map((m) => m.path)).not.toContain('docs/readme.txt');
    expect(prepared.manifest.find((m) => m.path === 'locked.txt')?.mode).toBe(0o644);
    expect(prepared.packagePath.startsWith(join(cacheDir, 'packages'))).toBe(true);
    // Only the selection and the folders leading to it were fetched.
    expect(await exists(join(wcDir(cacheDir), 'docs'))).toBe(false);
    expect(await exists(join(wcDir(cacheDir), 'deep/a/other.txt'))).toBe(false);
    await prepared.release();
  });

  it('expands svn:keywords and svn:eol-style as svn export does', async () => {
    const { source } = newSource();
    const prepared = await source.prepare(await request({ files: ['kw.txt'] }));
    const dir = await mkdtemp(join(work, 'kw-'));
    await extract({ file: prepared.packagePath, cwd: dir });
    const packed = await readFile(join(dir, 'kw.txt'), 'utf8');
    expect(packed).toContain(`$Revision: ${revs.first} $`);
    expect(packed).toContain(`$URL: ${server.url}/trunk/kw.txt $`);
    expect(packed).toMatch(/\$Date: \d{4}-\d\d-\d\d .*\$\r\n/);
    expect(packed.split('\r\n')).toHaveLength(7);
    await svnIn(dir, ['export', '--quiet', '--non-interactive', '--config-dir', join(dir, '.config'), '--no-auth-cache', '--username', server.username, '--password', server.password, `${server.url}/trunk/kw.txt@${revs.first}`, 'exported.txt']);
    expect(packed).toBe(await readFile(join(dir, 'exported.txt'), 'utf8'));
    await prepared.release();
  });

  it('packs the whole project like an export of "." (without svn\'s own files)', async () => {
    const { source } = newSource();
    const prepared = await source.prepare(await request({ files: ['.'] }));
    await expectSameAsExport(prepared, ['.'], revs.first);
    const paths = prepared.manifest.map((m) => m.path);
    expect(paths).toEqual(expect.arrayContaining(['docs/readme.txt', 'trap/out', 'deep/a/other.txt', 'big/random.bin']));
    expect(paths.filter((p) => p.includes('.svn'))).toEqual([]);
    await prepared.release();
  });

  it('judges links against the selection, not the rest of the working copy', async () => {
    const { source } = newSource();
    // The working copy has docs/ (selected first), but an export of trap alone does not: the link climbs out of a missing folder.
    await (await source.prepare(await request({ files: ['docs'] }))).release();
    const refusedByExport = await failure(exportAndPack(['trap'], revs.first));
    expect(refusedByExport.message).toMatch(/goes back up/);
    const refused = await failure(source.prepare(await request({ files: ['trap'] })));
    expect(refused).toBeInstanceOf(PackError);
    expect(refused.message).toBe(refusedByExport.message);
  });

  it('reuses the package for the same revision and selection without calling svn', async () => {
    const { run, calls } = recording();
    const { source } = newSource({ runFile: run });
    const first = await source.prepare(await request({ files: SELECTION }));
    await first.release();
    calls.length = 0;
    const steps: string[] = [];
    // The same selection spelt differently.
    const again = await source.prepare(await request({ files: ['./css/', ...SELECTION.slice().reverse(), 'css/site.css'], onStep: (t) => steps.push(t) }));
    expect(again).toMatchObject({ reused: true, sha256: first.sha256, packagePath: first.packagePath, fileCount: first.fileCount });
    expect(again.manifest).toEqual(first.manifest);
    expect(calls).toEqual([]);
    expect(steps).toEqual([`reusing the package of r${revs.first} built less than a minute ago`]);
    await again.release();

    // HEAD costs one question (which revision is it?) and nothing else.
    const atHead = await source.prepare(await request({ files: SELECTION, revision: revs.second }));
    await atHead.release();
    calls.length = 0;
    const head = await source.prepare(await request({ files: SELECTION, revision: undefined }));
    expect(head).toMatchObject({ reused: true, revision: revs.second, sha256: atHead.sha256 });
    expect(calls.map((c) => c.args.find((a) => ['info', 'update', 'checkout', 'export'].includes(a)))).toEqual(['info']);
    await head.release();
  });

  it('tells where a package grows while it is written, so uploads can read it before it is complete', async () => {
    /** Reads the package as an upload does: what is on disk, in pieces, until the feed says it is complete. */
    const readWhileGrowing = async ({ packagePath, sizeHint, done }: PackingStarted): Promise<Buffer> => {
      const info = done.then((r) => ({ size: r.bytes, sha256: r.sha256, manifestPaths: r.manifest.map((m) => m.path) }));
      const feed = PackageFeed.growing(packagePath, sizeHint, info);
      const file = await open(packagePath);
      const chunks: Buffer[] = [];
      let read = 0;
      try {
        while (!feed.info || read < feed.info.size) {
          await feed.waitBeyond(read);
          const chunk = Buffer.alloc(feed.available() - read);
          const { bytesRead } = await file.read(chunk, 0, chunk.length, read);
          chunks.push(chunk.subarray(0, bytesRead));
          read += bytesRead;
        }
      } finally {
        await file.close();
      }
      return Buffer.concat(chunks);
    };
    const files = ['big', ...SELECTION];
    for (const hooked of [false, true]) {
      const { source } = newSource();
      const notices: PackingStarted[] = [];
      let streamed: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
      const prepared = await source.prepare(await request({
        files,
        beforePublish: hooked ? async () => undefined : undefined,
        onPacking: (packing) => {
          notices.push(packing);
          streamed = readWhileGrowing(packing);
        },
      }));
      expect(notices.map((n) => n.packagePath)).toEqual([prepared.packagePath]);
      expect(notices[0].sizeHint).toBe(prepared.manifest.reduce((sum, m) => sum + m.size, 0));
      expect((await notices[0].done).sha256).toBe(prepared.sha256);
      expect(createHash('sha256').update(await streamed).digest('hex')).toBe(prepared.sha256);
      await prepared.release();
      if (hooked) continue;
      const reused = await source.prepare(await request({ files, onPacking: (packing) => notices.push(packing) }));
      expect(reused.reused).toBe(true);
      expect(notices).toHaveLength(1);
      await reused.release();
    }
  });

  it('updates to the next revision fetching only what changed; deleted files disappear', async () => {
    const { source } = newSource();
    const files = [...SELECTION, 'old.txt'];
    await (await source.prepare(await request({ files }))).release();
    const steps: string[] = [];
    const next = await source.prepare(await request({ files: SELECTION, revision: revs.second, onStep: (t) => steps.push(t) }));
    // index.html changed, css/new.css added, css/gone.css and old.txt deleted: nothing else came over the wire.
    expect(steps).toEqual([`updated the working copy to r${revs.second} (4 paths changed)`]);
    expect(next.reused).toBe(false);
    await expectSameAsExport(next, SELECTION, revs.second);
    const paths = next.manifest.map((m) => m.path);
    expect(paths).toContain('css/new.css');
    expect(paths).not.toContain('css/gone.css');
    const index = next.manifest.find((m) => m.path === 'index.html');
    expect(index?.sha256).toBe(createHash('sha256').update('<h1>v2</h1>\n').digest('hex'));
    await next.release();
  });

  it('gives the same plain errors as an export for a missing path or revision', async () => {
    const { source } = newSource();
    await (await source.prepare(await request({ files: ['index.html'], revision: revs.second }))).release();
    for (const [files, revision] of [[['old.txt'], revs.second], [['link-to-css/site.css'], revs.second], [['nope/x.txt'], revs.first], [['index.html'], 999]] as const) {
      const expected = await failure(exportAndPack(files, revision));
      const error = await failure(source.prepare(await request({ files, revision })));
      expect(error).toBeInstanceOf(SvnError);
      expect([error.message, (error as SvnError).reason]).toEqual([expected.message, (expected as SvnError).reason]);
    }
  });

  it('follows a changed project URL by switching the working copy', async () => {
    const { source, cacheDir } = newSource();
    await (await source.prepare(await request({ files: ['index.html', 'kw.txt'] }))).release();
    const branch = { ...trunk, url: `${server.url}/branches/v2` };
    const steps: string[] = [];
    const switched = await source.prepare(await request({ files: ['index.html', 'kw.txt'], svn: branch, onStep: (t) => steps.push(t) }));
    expect(steps).toEqual([expect.stringMatching(/^updated the working copy/)]);
    await expectSameAsExport(switched, ['index.html', 'kw.txt'], revs.first, branch);
    expect(JSON.parse(await readFile(`${wcDir(cacheDir)}.json`, 'utf8')).url).toBe(branch.url);
    await switched.release();
  });
});

describe('ReleaseSource never lets the working copy leak into a package', () => {
  it('undoes local changes: modified, added, unversioned, deleted and obstructed files', async () => {
    const { source, cacheDir } = newSource();
    await (await source.prepare(await request({ files: SELECTION }))).release();
    const wc = wcDir(cacheDir);
    await writeFile(join(wc, 'index.html'), 'tampered\n');
    await writeFile(join(wc, 'css/extra.css'), 'unversioned\n');
    await writeFile(join(wc, 'img/added.png'), 'added\n');
    await svnIn(wc, ['add', '--quiet', 'img/added.png']);
    await unlink(join(wc, 'bin/run.sh'));
    await rm(join(wc, 'with space'), { recursive: true });
    // A versioned folder replaced by a file of the same name (svn calls it obstructed).
    await rm(join(wc, 'deep'), { recursive: true });
    await writeFile(join(wc, 'deep'), 'in the way\n');
    const files = [...SELECTION, 'docs'];
    const steps: string[] = [];
    const prepared = await source.prepare(await request({ files, onStep: (t) => steps.push(t) }));
    expect(steps.join('\n')).not.toMatch(/checking it out again/);
    await expectSameAsExport(prepared, files, revs.first);
    expect(prepared.manifest.map((m) => m.path)).toEqual(expect.arrayContaining(['bin/run.sh', 'with space/read me.txt']));
    expect(prepared.manifest.map((m) => m.path)).not.toContain('css/extra.css');
    expect(prepared.manifest.map((m) => m.path)).not.toContain('img/added.png');
    expect(await readFile(join(wc, 'index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    await prepared.release();
  });

  it('runs before-publish hooks in a writable copy: neither the working copy nor the cache sees their changes', async () => {
    const { source, cacheDir } = newSource();
    let hookDir = '';
    // HEAD: the hook is told the revision it was resolved to.
    const req = await request({
      files: SELECTION,
      revision: undefined,
      beforePublish: async (dir, revision) => {
        expect(revision).toBe(revs.second);
        hookDir = dir;
        await writeFile(join(dir, 'index.html'), 'built by the hook\n');
        await writeFile(join(dir, 'generated.txt'), 'generated\n');
        await appendFile(join(dir, 'locked.txt'), 'a needs-lock file is writable in an export\n');
      },
    });
    const hooked = await source.prepare(req);
    expect(hookDir).toBe(join(req.workDir, 'export'));
    expect(hooked.packagePath.startsWith(req.workDir)).toBe(true);
    expect(hooked.reused).toBe(false);
    expect(hooked.manifest.map((m) => m.path)).toContain('generated.txt');
    expect(hooked.manifest.find((m) => m.path === 'index.html')?.sha256).toBe(createHash('sha256').update('built by the hook\n').digest('hex'));
    await hooked.release();
    expect(await readFile(join(wcDir(cacheDir), 'index.html'), 'utf8')).toBe('<h1>v2</h1>\n');
    expect(await exists(join(wcDir(cacheDir), 'generated.txt'))).toBe(false);
    expect(await readdir(join(cacheDir, 'packages'))).toEqual([]);

    const plain = await source.prepare(await request({ files: SELECTION, revision: revs.second }));
    expect(plain.reused).toBe(false);
    await expectSameAsExport(plain, SELECTION, revs.second);
    await plain.release();
    // With hooks again: built afresh, never the cached package.
    const again = await source.prepare({ ...req, workDir: await mkdtemp(join(work, 'job-')) });
    expect(again.reused).toBe(false);
    expect(again.manifest.map((m) => m.path)).toContain('generated.txt');
  });

  it('rebuilds a cached package that was damaged on disk', async () => {
    const { source } = newSource();
    const first = await source.prepare(await request({ files: ['img', 'index.html'] }));
    await first.release();
    const bytes = await readFile(first.packagePath);
    bytes[bytes.length >> 1] ^= 0xff;
    await writeFile(first.packagePath, bytes);
    const again = await source.prepare(await request({ files: ['img', 'index.html'] }));
    expect(again.reused).toBe(false);
    await expectSameAsExport(again, ['img', 'index.html'], revs.first);
    await again.release();
    await truncate(again.packagePath, 10);
    const third = await source.prepare(await request({ files: ['img', 'index.html'] }));
    expect(third.reused).toBe(false);
    await expectSameAsExport(third, ['img', 'index.html'], revs.first);
  });
});

describe('ReleaseSource notices a different repository behind the same URL', () => {
  it('rebuilds instead of reusing when HEAD shows another repository UUID, and checks out again', async () => {
    const { source } = newSource();
    const head = await source.prepare(await request({ files: ['index.html'], revision: undefined }));
    await head.release();
    const uuid = async () => (await runFile('svnlook', ['uuid', server.root])).stdout.trim();
    const original = await uuid();
    expect((await runFile('svnadmin', ['setuuid', server.root])).code).toBe(0);
    try {
      expect(await uuid()).not.toBe(original);
      const steps: string[] = [];
      const again = await source.prepare(await request({ files: ['index.html'], revision: undefined, onStep: (t) => steps.push(t) }));
      expect(again.reused).toBe(false);
      expect(steps).toEqual([expect.stringMatching(/checking it out again$/), expect.stringMatching(/^checked out/)]);
      await expectSameAsExport(again, ['index.html'], revs.second);
      await again.release();
    } finally {
      await runFile('svnadmin', ['setuuid', server.root, original]);
    }
  });
});

describe('ReleaseSource heals a damaged working copy', () => {
  async function damagedThenPrepared(damage: (wc: string) => Promise<void>): Promise<{ steps: string[]; prepared: PreparedPackage }> {
    const { source, cacheDir } = newSource();
    await (await source.prepare(await request({ files: ['index.html'] }))).release();
    await damage(wcDir(cacheDir));
    const steps: string[] = [];
    const prepared = await source.prepare(await request({ files: SELECTION, onStep: (t) => steps.push(t) }));
    await expectSameAsExport(prepared, SELECTION, revs.first);
    return { steps, prepared };
  }

  const inDatabase = (sql: string) => async (wc: string) => {
    const db = new Database(join(wc, '.svn', 'wc.db'));
    db.exec(sql);
    db.close();
  };

  it('breaks the lock a killed svn left, keeping the working copy', async () => {
    const { steps } = await damagedThenPrepared(inDatabase("INSERT INTO WC_LOCK (wc_id, local_dir_relpath, locked_levels) VALUES (1, '', -1)"));
    expect(steps).toEqual([expect.stringMatching(/^updated the working copy/)]);
  });

  it('checks out again when cleanup cannot finish an interrupted operation', async () => {
    const { steps } = await damagedThenPrepared(inDatabase("INSERT INTO WORK_QUEUE (work) VALUES ('(garbage)')"));
    expect(steps).toEqual([expect.stringMatching(/could not be updated .*checking it out again$/), expect.stringMatching(/^checked out/)]);
  });

  it('checks out again when svn metadata is corrupt or gone', async () => {
    const corrupt = await damagedThenPrepared((wc) => writeFile(join(wc, '.svn', 'wc.db'), 'not a database'));
    expect(corrupt.steps[1]).toMatch(/^checked out/);
    const gone = await damagedThenPrepared((wc) => rm(join(wc, '.svn'), { recursive: true }));
    expect(gone.steps[1]).toMatch(/^checked out/);
  });
});

describe('ReleaseSource under concurrent jobs', () => {
  const subcommand = (args: readonly string[]) => args.find((a) => ['checkout', 'update', 'switch', 'cleanup', 'revert', 'info'].includes(a));
  const touches = (call: SvnCall, dir: string) => call.args.some((a) => a.startsWith(dir));

  it('prepares two projects in parallel', async () => {
    let slowDir = '';
    let fastDone: Promise<unknown> = Promise.resolve();
    // The slow project's update waits for the fast project to finish (at most 30 s: one lock for all would deadlock,
    // and the wait would end by the clock instead).
    const released: string[] = [];
    const hold = () => Promise.race([fastDone.then(() => 'by the fast project'), sleep(30_000).then(() => 'by the clock')]).then((why) => void released.push(why));
    const { run, calls } = recording((args) => (slowDir && args.some((a) => a.startsWith(slowDir)) && subcommand(args) === 'update' ? hold() : 0));
    const { source, cacheDir } = newSource({ runFile: run });
    slowDir = wcDir(cacheDir, 'slow');
    const slowRequest = await request({ projectKey: 'slow', files: SELECTION });
    const fastRequest = await request({ projectKey: 'fast', files: ['index.html', 'css'], revision: revs.second });
    const slowPrepared = source.prepare(slowRequest);
    const fastPrepared = source.prepare(fastRequest);
    fastDone = fastPrepared.catch(() => undefined);
    const [slow, fast] = await Promise.all([slowPrepared, fastPrepared]);
    await expectSameAsExport(slow, SELECTION, revs.first);
    await expectSameAsExport(fast, ['index.html', 'css'], revs.second);
    const slowCalls = calls.filter((c) => touches(c, slowDir));
    const fastCalls = calls.filter((c) => touches(c, wcDir(cacheDir, 'fast')));
    // The fast project did all its svn work while the slow one was held in its update.
    expect(fastCalls.length).toBeGreaterThan(0);
    expect(Math.max(...fastCalls.map((c) => c.end))).toBeLessThan(Math.max(...slowCalls.map((c) => c.end)));
    expect(released).not.toContain('by the clock');
  }, 60_000);

  it('runs one job at a time on a project working copy, each getting its own revision', async () => {
    const { run, calls } = recording((args) => (['update', 'checkout'].includes(subcommand(args) ?? '') ? 150 : 0));
    const { source, cacheDir } = newSource({ runFile: run });
    const [first, second, third] = await Promise.all([
      source.prepare(await request({ files: SELECTION })),
      source.prepare(await request({ files: SELECTION, revision: revs.second })),
      source.prepare(await request({ files: ['.'], svn: { ...trunk, url: `${server.url}/branches/v2` } })),
    ]);
    await expectSameAsExport(first, SELECTION, revs.first);
    await expectSameAsExport(second, SELECTION, revs.second);
    await expectSameAsExport(third, ['.'], revs.first, { ...trunk, url: `${server.url}/branches/v2` });
    const onCopy = calls.filter((c) => touches(c, wcDir(cacheDir))).sort((a, b) => a.start - b.start);
    expect(onCopy.length).toBeGreaterThan(6);
    for (let i = 1; i < onCopy.length; i++) expect(onCopy[i].start).toBeGreaterThanOrEqual(onCopy[i - 1].end);
  });

  it('builds a package once when two jobs want it at the same time', async () => {
    const { source } = newSource();
    const both = await Promise.all([source.prepare(await request({ files: SELECTION })), source.prepare(await request({ files: SELECTION }))]);
    expect(both.map((p) => p.reused).sort()).toEqual([false, true]);
    expect(both[0].sha256).toBe(both[1].sha256);
    expect(both[0].packagePath).toBe(both[1].packagePath);
  });
});

describe('ReleaseSource stays within its disk limits', () => {
  const packageFiles = async (cacheDir: string) => (await readdir(join(cacheDir, 'packages'))).filter((n) => n.endsWith('.tar.gz'));

  it('evicts the least recently used packages, never a pinned one', async () => {
    const { source, cacheDir } = newSource({ limits: { packageEntries: 1 } });
    const pinned = await source.prepare(await request({ files: ['index.html'] }));
    const b = await source.prepare(await request({ files: ['css'] }));
    await b.release();
    const c = await source.prepare(await request({ files: ['bin'] }));
    await c.release();
    // Newest (c) within the limit, b evicted, the pinned one kept beyond it.
    expect(await exists(pinned.packagePath)).toBe(true);
    expect(await exists(b.packagePath)).toBe(false);
    expect((await packageFiles(cacheDir)).sort()).toEqual([pinned.packagePath, c.packagePath].map((p) => p.split('/').pop()).sort());
    // The pinned entry is still an entry (reusable), not only a file kept on disk.
    expect((await readdir(join(cacheDir, 'packages'))).filter((n) => /^[0-9a-f]{64}\.json$/.test(n))).toHaveLength(2);
    expect(await readFile(pinned.packagePath)).toHaveLength(pinned.bytes);
    await pinned.release();
    expect(await exists(pinned.packagePath)).toBe(false);
    expect(await packageFiles(cacheDir)).toEqual([c.packagePath.split('/').pop()]);
  });

  it('keeps the packages under the byte limit and drops those unused for too long', async () => {
    const cacheBytes = async (cacheDir: string) => {
      let sum = 0;
      for (const name of await readdir(join(cacheDir, 'packages'))) sum += (await stat(join(cacheDir, 'packages', name))).size;
      return sum;
    };
    // Packages this small are plain tars (5-6 KiB each here).
    const { source, cacheDir } = newSource({ limits: { packageBytes: 8000 } });
    const older = await source.prepare(await request({ files: ['img', 'index.html'] }));
    await older.release();
    const newer = await source.prepare(await request({ files: ['img'] }));
    expect(older.bytes + newer.bytes).toBeGreaterThan(8000);
    await newer.release();
    expect(await exists(older.packagePath)).toBe(false);
    expect(await exists(newer.packagePath)).toBe(true);
    expect(await cacheBytes(cacheDir)).toBeLessThanOrEqual(8000);
    // Larger than the whole cache: used while pinned, deleted once released.
    const huge = await source.prepare(await request({ files: ['big'] }));
    expect(await exists(huge.packagePath)).toBe(true);
    await huge.release();
    expect(await exists(huge.packagePath)).toBe(false);
    expect(await cacheBytes(cacheDir)).toBeLessThanOrEqual(8000);

    const idle = newSource({ limits: { packageMaxIdleMs: 60_000 } });
    const old = await idle.source.prepare(await request({ files: ['index.html'] }));
    await old.release();
    const record = (await readdir(join(idle.cacheDir, 'packages'))).find((n) => /^[0-9a-f]{64}\.json$/.test(n))!;
    const longAgo = new Date(Date.now() - 120_000);
    await utimes(join(idle.cacheDir, 'packages', record), longAgo, longAgo);
    await (await idle.source.prepare(await request({ files: ['css'] }))).release();
    expect(await exists(old.packagePath)).toBe(false);
  });

  it('deletes the least recently used working copies, never one in use', async () => {
    let slowDir = '';
    let fastDone: Promise<unknown> = Promise.resolve();
    const { run } = recording((args) => (slowDir && args.some((a) => a.startsWith(slowDir)) && args.includes('update') ? Promise.race([fastDone, sleep(5000)]) : 0));
    const { source, cacheDir } = newSource({ runFile: run, limits: { workingCopies: 1 } });
    slowDir = wcDir(cacheDir, 'slow');
    await (await source.prepare(await request({ projectKey: 'old', files: ['index.html'] }))).release();
    expect(await exists(wcDir(cacheDir, 'old'))).toBe(true);
    // "slow" waits in its update until "fast" is done: slow's working copy is in use and must survive fast's trimming.
    const slowRequest = await request({ projectKey: 'slow', files: SELECTION });
    const fastRequest = await request({ projectKey: 'fast', files: ['css'] });
    const slowPrepared = source.prepare(slowRequest);
    const fastPrepared = source.prepare(fastRequest);
    fastDone = fastPrepared.catch(() => undefined);
    const [slow, fast] = await Promise.all([slowPrepared, fastPrepared]);
    await expectSameAsExport(slow, SELECTION, revs.first);
    await expectSameAsExport(fast, ['css'], revs.first);
    const left = (await readdir(join(cacheDir, 'svn'))).sort();
    expect(left).toEqual([workingCopyName('slow'), `${workingCopyName('slow')}.json`]);
  });
});

describe('ReleaseSource says plainly what went wrong', () => {
  it('reports a wrong password as the export did, and keeps the working copy', async () => {
    const wrong = { ...trunk, password: 'not-the-password' };
    const expected = await failure(new SvnClient(wrong, runFile).exportSelection(['index.html'], revs.first, join(work, 'never')));
    expect(expected.message).toBe('SVN rejected the login: check the username and password.');
    const { source, cacheDir } = newSource();
    const fresh = await failure(source.prepare(await request({ files: ['index.html'], svn: wrong })));
    expect(fresh).toBeInstanceOf(SvnError);
    expect(fresh.message).toBe(expected.message);

    await (await source.prepare(await request({ files: ['index.html'] }))).release();
    const existing = await failure(source.prepare(await request({ files: ['css'], svn: wrong, revision: revs.second })));
    expect(existing.message).toBe(expected.message);
    const steps: string[] = [];
    await (await source.prepare(await request({ files: ['css'], revision: revs.second, onStep: (t) => steps.push(t) }))).release();
    expect(steps).toEqual([expect.stringMatching(/^updated the working copy/)]);
    expect(await exists(wcDir(cacheDir))).toBe(true);
  });

  it('reports a full disk and a read-only cache directory plainly, leaving no half-written package', async (ctx) => {
    const disk = await mkdtemp(join(work, 'disk-'));
    const unmount = mountTmpfs(ctx, disk, '4m');
    try {
      const { source, cacheDir } = newSource({ cacheDir: join(disk, 'cache') });
      await (await source.prepare(await request({ files: ['big', 'index.html'] }))).release();
      // Fill the disk but for 64 KB: the working copy has everything, but a 200 KB package cannot be written.
      const { bavail, bsize } = await statfs(disk);
      await writeFile(join(disk, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - 64 * 1024)));
      const before = (await readdir(join(cacheDir, 'packages'))).sort();
      const full = await failure(source.prepare(await request({ files: ['big'] })));
      expect(full).toBeInstanceOf(ReleaseCacheError);
      expect(full.message).toBe(`Ferry cannot write ${join(cacheDir, 'packages')} (the disk is full): free some space; ${cacheDir} holds caches that may be deleted while no job runs.`);
      expect((await readdir(join(cacheDir, 'packages'))).sort()).toEqual(before);
      await rm(join(disk, 'filler'));
      const after = await source.prepare(await request({ files: ['big'] }));
      await expectSameAsExport(after, ['big'], revs.first);
      await after.release();

      execFileSync('mount', ['-o', 'remount,ro', disk]);
      const readOnly = newSource({ cacheDir: join(disk, 'elsewhere') });
      const refused = await failure(readOnly.source.prepare(await request({ files: ['index.html'] })));
      expect(refused).toBeInstanceOf(ReleaseCacheError);
      expect(refused.message).toMatch(/^Ferry cannot write .*elsewhere.* \(the file system is read-only\): check the owner and permissions of /);
    } finally {
      unmount();
    }
  });

  it('refuses a cache directory it cannot create', async () => {
    const file = join(work, 'not-a-directory');
    await writeFile(file, '');
    const { source } = newSource({ cacheDir: join(file, 'cache') });
    const error = await failure(source.prepare(await request({ files: ['index.html'] })));
    expect(error).toBeInstanceOf(ReleaseCacheError);
    expect(error.message).toBe(`Ferry cannot write ${join(file, 'cache')} (a part of the path is a file, not a folder): check the owner and permissions of ${join(file, 'cache')}.`);
  });
});
