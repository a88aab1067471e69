import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SvnClient, SvnError, type SvnRepository } from '../../src/deploy/svn/index.ts';
import { runFile, type RunFile, type RunFileOptions } from '../../src/lib/exec.ts';
import { freePort, startSvnServer, type SvnServer } from '../kit/svnserve.ts';

let server: SvnServer;
let work: string;
let repo: SvnRepository;
let client: SvnClient;
const revs: Record<string, number> = {};

beforeAll(async () => {
  server = await startSvnServer();
  work = await mkdtemp(join(tmpdir(), 'ferry-svn-test-'));
  revs.first = await server.commit(
    {
      'trunk/a.txt': 'version one\n',
      'trunk/old.txt': 'to be deleted\n',
      'trunk/with space/read me.txt': 'spaces are fine\n',
      'trunk/配置/服务器.txt': '服务器 = 127.0.0.1\n',
      'trunk/bin/deploy.sh': { content: '#!/bin/sh\necho deployed\n', executable: true },
      'trunk/lib/deep/x.bin': Buffer.from([0, 1, 2, 255, 254]),
      'trunk/lib/logo@2x.png': 'at sign\n',
      'branches/other/z.txt': 'outside the project\n',
    },
    'Initial import',
  );
  revs.second = await server.commit({ 'trunk/a.txt': 'version two\n', 'branches/other/z.txt': 'changed\n' }, 'Second: a.txt & z.txt <changed>', {
    delete: ['trunk/old.txt'],
  });
  repo = { url: `${server.url}/trunk`, username: server.username, password: server.password };
  client = new SvnClient(repo, runFile);
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function svnFailure(promise: Promise<unknown>): Promise<SvnError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SvnError);
  return error as SvnError;
}

describe('SvnClient against a real svnserve', () => {
  it('reports info for the project URL', async () => {
    const info = await client.info();
    expect(info).toMatchObject({
      url: `${server.url}/trunk`,
      repositoryRoot: server.url,
      pathInRepository: '/trunk',
      revision: revs.second,
      lastChangedRev: revs.second,
      lastChangedAuthor: server.username,
    });
    expect(info.lastChangedDate).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await client.headRevision()).toBe(revs.second);
    expect((await client.info(revs.first)).revision).toBe(revs.first);
  });

  it('lists one directory level, directories first, with project-relative paths', async () => {
    const root = await client.listDir();
    expect(root.map((e) => [e.name, e.kind])).toEqual([
      ['bin', 'dir'],
      ['lib', 'dir'],
      ['with space', 'dir'],
      ['配置', 'dir'],
      ['a.txt', 'file'],
    ]);
    const a = root.find((e) => e.name === 'a.txt');
    expect(a).toMatchObject({ path: 'a.txt', size: 'version two\n'.length, rev: revs.second, author: server.username });
    expect(root.find((e) => e.name === 'bin')?.size).toBeNull();

    const chinese = await client.listDir('配置');
    expect(chinese).toEqual([expect.objectContaining({ name: '服务器.txt', path: '配置/服务器.txt', kind: 'file', rev: revs.first })]);
    expect((await client.listDir('with space/')).map((e) => e.path)).toEqual(['with space/read me.txt']);
    expect((await client.listDir('lib/deep')).map((e) => e.path)).toEqual(['lib/deep/x.bin']);
  });

  it('lists a directory as it was at an older revision', async () => {
    const names = (await client.listDir('.', revs.first)).map((e) => e.name);
    expect(names).toContain('old.txt');
    expect((await client.listDir('')).map((e) => e.name)).not.toContain('old.txt');
  });

  it('reads the log newest first with paths relative to the project', async () => {
    const log = await client.log(10);
    expect(log.map((e) => e.revision)).toEqual([revs.second, revs.first]);
    const [second, first] = log;
    expect(second).toMatchObject({ author: server.username, message: 'Second: a.txt & z.txt <changed>' });
    expect(second.paths).toEqual(
      expect.arrayContaining([
        { action: 'M', path: 'a.txt', kind: 'file' },
        { action: 'D', path: 'old.txt', kind: 'file' },
        { action: 'M', path: '/branches/other/z.txt', kind: 'file' },
      ]),
    );
    expect(first.paths).toEqual(
      expect.arrayContaining([
        { action: 'A', path: '', kind: 'dir' },
        { action: 'A', path: '配置/服务器.txt', kind: 'file' },
        { action: 'A', path: 'with space/read me.txt', kind: 'file' },
      ]),
    );
    expect((await client.log(1)).map((e) => e.revision)).toEqual([revs.second]);
    expect((await client.log(5, revs.first)).map((e) => e.revision)).toEqual([revs.first]);
  });

  it('exports a selection with spaces and Chinese names, keeping relative paths and the executable bit', async () => {
    const dest = join(work, 'export-head');
    const revision = await client.exportSelection(['./配置/服务器.txt', 'with space/read me.txt', 'bin/', 'lib', 'a.txt'], 'HEAD', dest);
    expect(revision).toBe(revs.second);
    expect(await readFile(join(dest, '配置', '服务器.txt'), 'utf8')).toBe('服务器 = 127.0.0.1\n');
    expect(await readFile(join(dest, 'with space', 'read me.txt'), 'utf8')).toBe('spaces are fine\n');
    expect(await readFile(join(dest, 'a.txt'), 'utf8')).toBe('version two\n');
    expect(await readFile(join(dest, 'lib', 'deep', 'x.bin'))).toEqual(Buffer.from([0, 1, 2, 255, 254]));
    const script = await stat(join(dest, 'bin', 'deploy.sh'));
    expect(script.mode & 0o111).not.toBe(0);
    expect((await stat(join(dest, 'a.txt'))).mode & 0o111).toBe(0);
  });

  it('exports names with an at sign (not read as a peg revision)', async () => {
    const dest = join(work, 'export-at');
    await client.exportSelection(['lib/logo@2x.png'], revs.second, dest);
    expect(await readFile(join(dest, 'lib', 'logo@2x.png'), 'utf8')).toBe('at sign\n');
  });

  it('exports the files as they were at the requested revision', async () => {
    const dest = join(work, 'export-old');
    expect(await client.exportSelection(['a.txt', 'old.txt'], revs.first, dest)).toBe(revs.first);
    expect(await readFile(join(dest, 'a.txt'), 'utf8')).toBe('version one\n');
    expect(await readFile(join(dest, 'old.txt'), 'utf8')).toBe('to be deleted\n');
  });

  it('exports the whole project when "." is selected', async () => {
    const dest = join(work, 'export-all');
    await client.exportSelection(['.'], revs.second, dest);
    expect(await readFile(join(dest, '配置', '服务器.txt'), 'utf8')).toBe('服务器 = 127.0.0.1\n');
    expect(await readFile(join(dest, 'a.txt'), 'utf8')).toBe('version two\n');
  });

  it('refuses selections that leave the project before running svn', async () => {
    await expect(client.exportSelection(['../branches/other'], 'HEAD', join(work, 'never'))).rejects.toThrow(
      '"../branches/other" is outside the project',
    );
  });

  it('explains a path that is missing at the requested revision', async () => {
    const error = await svnFailure(client.exportSelection(['old.txt'], revs.second, join(work, 'missing')));
    expect(error.reason).toBe('not-found');
    expect(error.message).toBe(`"old.txt" does not exist in revision ${revs.second}.`);
    expect(error.detail).toMatch(/E170000|E160013/);
  });

  it('explains a revision that does not exist', async () => {
    const error = await svnFailure(client.listDir('.', 999));
    expect(error.reason).toBe('no-such-revision');
    expect(error.message).toBe('Revision 999 does not exist in the repository.');
  });

  it('explains a wrong password in plain words', async () => {
    const wrong = new SvnClient({ ...repo, password: 'not-the-password' }, runFile);
    const error = await svnFailure(wrong.info());
    expect(error.reason).toBe('auth');
    expect(error.message).toBe('SVN rejected the login: check the username and password.');
    expect(error.detail).toContain('E170001');
    const unknownUser = new SvnClient({ ...repo, username: 'mallory' }, runFile);
    expect((await svnFailure(unknownUser.listDir())).reason).toBe('auth');
  });

  it('explains an unknown project URL or path', async () => {
    const missing = new SvnClient({ ...repo, url: `${server.url}/no/such/project` }, runFile);
    const error = await svnFailure(missing.info());
    expect(error.reason).toBe('not-found');
    expect(error.message).toBe(`The project URL ${server.url}/no/such/project does not exist in the repository.`);
    const dirError = await svnFailure(client.listDir('nope'));
    expect(dirError.message).toBe('"nope" does not exist in the repository.');
    const noRepo = new SvnClient({ ...repo, url: server.url.replace(/\/repo$/, '/nothing') }, runFile);
    expect((await svnFailure(noRepo.info())).message).toMatch(/^There is no SVN repository at /);
  });

  it('explains an unreachable server', async () => {
    const port = await freePort();
    const closed = new SvnClient({ ...repo, url: `svn://127.0.0.1:${port}/repo/trunk` }, runFile);
    const error = await svnFailure(closed.headRevision());
    expect(error.reason).toBe('unreachable');
    expect(error.message).toBe(`Cannot reach the SVN server (svn://127.0.0.1:${port}/repo/trunk): it refused or dropped the connection, or is down.`);
    expect(error.detail).toContain('E000111');
  });

  it('explains a missing svn binary', async () => {
    const broken = new SvnClient(repo, runFile, { svnBinary: '/nonexistent/svn' });
    const error = await svnFailure(broken.info());
    expect(error.reason).toBe('not-installed');
  });

  it('never puts the password on the command line, but still authenticates', async () => {
    const calls: { file: string; args: readonly string[]; opts?: RunFileOptions }[] = [];
    const spy: RunFile = (file, args, opts) => {
      calls.push({ file, args, opts });
      return runFile(file, args, opts);
    };
    const spied = new SvnClient(repo, spy);
    expect(await spied.headRevision()).toBe(revs.second);
    await spied.listDir('配置');
    await spied.log(2);
    await spied.exportSelection(['a.txt'], 'HEAD', join(work, 'spied'));
    expect(calls.length).toBeGreaterThanOrEqual(4);
    for (const call of calls) {
      expect(call.file).toBe('svn');
      expect(call.args.some((arg) => arg.includes(server.password))).toBe(false);
      expect(call.args).toEqual(expect.arrayContaining(['--password-from-stdin', '--non-interactive', '--no-auth-cache', '--config-dir']));
      expect(call.opts?.input).toBe(`${server.password}\n`);
      expect(JSON.stringify(call.opts?.env ?? {})).not.toContain(server.password);
    }
  });

  it('rejects a password embedded in the URL', () => {
    expect(() => new SvnClient({ url: 'svn://bob:secret@127.0.0.1/repo' }, runFile)).toThrow('Put the SVN password in the password field');
  });
});

describe('SvnClient.listDir with a large directory', () => {
  it('parses 20,000 entries quickly', async () => {
    const entries = Array.from(
      { length: 20_000 },
      (_, i) =>
        `<entry\n   kind="${i % 10 === 0 ? 'dir' : 'file'}">\n<name>f&amp;${i} 文件.txt</name>\n${i % 10 === 0 ? '' : `<size>${i}</size>\n`}` +
        `<commit\n   revision="${i + 1}">\n<author>alice</author>\n<date>2024-01-01T00:00:00.000000Z</date>\n</commit>\n</entry>`,
    );
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<lists>\n<list\n   path="svn://x/trunk/big">\n${entries.join('\n')}\n</list>\n</lists>\n`;
    const fake: RunFile = async () => ({ code: 0, stdout: xml, stderr: '' });
    const big = new SvnClient({ url: 'svn://127.0.0.1/repo/trunk', username: 'alice', password: 'pw' }, fake);
    const started = performance.now();
    const listed = await big.listDir('big');
    const elapsed = performance.now() - started;
    expect(listed).toHaveLength(20_000);
    expect(listed[0]).toEqual({ name: 'f&0 文件.txt', path: 'big/f&0 文件.txt', kind: 'dir', size: null, rev: 1, author: 'alice', date: '2024-01-01T00:00:00.000000Z' });
    expect(listed[2000]).toMatchObject({ kind: 'file', size: 1, rev: 2 });
    expect(elapsed).toBeLessThan(1500);
  });

  // Last: it commits a revision, and earlier tests expect HEAD to be revs.second.
  it('never pulls svn:externals into an export (they could name any repository the Ferry server reaches)', async () => {
    const other = await mkdtemp(join(tmpdir(), 'ferry-svn-external-'));
    try {
      const otherRepo = join(other, 'repo');
      expect((await runFile('svnadmin', ['create', otherRepo])).code).toBe(0);
      const otherWc = join(other, 'wc');
      expect((await runFile('svn', ['checkout', '--quiet', pathToFileURL(otherRepo).href, otherWc])).code).toBe(0);
      await writeFile(join(otherWc, 'secret.txt'), 'from another repository\n');
      expect((await runFile('svn', ['add', '--quiet', join(otherWc, 'secret.txt')])).code).toBe(0);
      expect((await runFile('svn', ['commit', '--quiet', '-m', 'secret', otherWc])).code).toBe(0);

      const wc = join(other, 'project-wc');
      expect((await runFile('svn', ['checkout', '--quiet', `${pathToFileURL(server.root).href}/trunk`, wc])).code).toBe(0);
      expect((await runFile('svn', ['propset', '--quiet', 'svn:externals', `${pathToFileURL(otherRepo).href} pulled`, join(wc, 'lib')])).code).toBe(0);
      const committed = await runFile('svn', ['commit', '-m', 'external', wc]);
      const rev = Number(/Committed revision (\d+)\./.exec(committed.stdout)?.[1]);
      expect(rev).toBeGreaterThan(0);

      const dest = join(work, 'externals');
      await client.exportSelection(['.', 'lib'], rev, dest);
      expect(await stat(join(dest, 'lib/deep/x.bin')).then(() => true)).toBe(true);
      expect(await stat(join(dest, 'lib/pulled')).then(() => true, () => false)).toBe(false);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
