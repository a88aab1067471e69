// Symbolic links from a hostile repository or a hostile host must never let Ferry read, write or delete outside the
// deploy directory: real svnserve, real sshd (the target is this machine, so the tests look at its files with fs).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HookSpec } from '../../src/deploy/hooks.ts';
import { packDirectory } from '../../src/deploy/pack/index.ts';
import { publishToHost, rollbackHost } from '../../src/deploy/release.ts';
import type { PublishRequest } from '../../src/deploy/runner-types.ts';
import { createEngine } from '../../src/deploy/runner.ts';
import { createSshTransport } from '../../src/deploy/transport/index.ts';
import type { JobEvent, RemoteSession } from '../../src/deploy/types.ts';
import { runFile } from '../../src/lib/exec.ts';
import { startSshd, type SshdHandle } from '../kit/sshd.ts';
import { startSvnServer, type SvnServer } from '../kit/svnserve.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const engine = createEngine({ transport: createSshTransport(), runFile, logger: quiet, connectTimeoutMs: 10_000 });

let svn: SvnServer;
let sshd: SshdHandle;
let session: RemoteSession;
let scratch: string;
let nextJobId = 1;
let caseNumber = 0;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'ferry-symlinks-test-'));
  [svn, sshd] = await Promise.all([startSvnServer(), startSshd()]);
  session = await createSshTransport().connect(sshd.target({ name: 'web1' }));
}, 60_000);

afterAll(async () => {
  await session?.close();
  await Promise.all([svn?.stop(), sshd?.stop()]);
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh, empty deploy directory on the target and a directory outside it (with one file that must survive). */
function freshCase(): { deployDir: string; outside: string } {
  const n = ++caseNumber;
  const deployDir = join(sshd.dir, `case ${n}`);
  mkdirSync(deployDir, { recursive: true });
  const outside = join(sshd.rootDir, `outside-${n}`);
  mkdirSync(outside);
  writeFileSync(join(outside, 'victim.txt'), 'must survive\n');
  return { deployDir, outside };
}

type HostEvent = Extract<JobEvent, { type: 'host' }>;

/** Publishes `project` (a folder at the repository root) to the deploy directory; a job-level failure comes back as `error`. */
async function publish(project: string, deployDir: string, opts: { revision?: number; files?: string[]; beforePublish?: HookSpec[]; onEvent?: (e: JobEvent) => void } = {}) {
  const events: JobEvent[] = [];
  const req: PublishRequest = {
    jobId: nextJobId++, project, user: 'ops', keepSnapshots: 5, concurrency: 1,
    svn: { url: `${svn.url}/${project}`, username: svn.username, password: svn.password },
    revision: opts.revision, files: opts.files ?? ['.'],
    hosts: [{ name: 'web1', target: sshd.target({ name: 'web1' }), deployDir, relayMode: 'auto' }],
    hooks: { beforePublish: opts.beforePublish ?? [], afterPublish: [] },
  };
  let error: string | null = null;
  try {
    await engine.publish(req, (e) => {
      events.push(e);
      opts.onEvent?.(e);
    });
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const hostEvents = events.filter((e): e is HostEvent => e.type === 'host');
  const output = events.filter((e) => e.type === 'output').map((e) => (e as { text: string }).text).join('');
  return { jobId: req.jobId, error, hostEvents, final: hostEvents.at(-1), output };
}

async function rollback(deployDir: string, jobIds: number[]) {
  const events: JobEvent[] = [];
  await engine.rollback({
    jobId: nextJobId++, project: 'links', user: 'ops', concurrency: 1,
    hosts: [{ name: 'web1', target: sshd.target({ name: 'web1' }), deployDir, relayMode: 'auto', jobIds }],
  }, (e) => void events.push(e));
  return events.filter((e): e is HostEvent => e.type === 'host').at(-1);
}

/** Every entry under root (except .ferry/ when asked): type and content hash or link target. */
function treeOf(root: string, opts: { withFerry?: boolean } = {}): Record<string, string> {
  const tree: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (prefix === '' && name === '.ferry' && !opts.withFerry) continue;
      const full = join(dir, name);
      const rel = prefix + name;
      const stat = lstatSync(full);
      if (stat.isSymbolicLink()) tree[rel] = `link -> ${readlinkSync(full)}`;
      else if (stat.isDirectory()) {
        tree[`${rel}/`] = 'dir';
        walk(full, `${rel}/`);
      } else tree[rel] = `file ${createHash('sha256').update(readFileSync(full)).digest('hex').slice(0, 16)}`;
    }
  };
  if (existsSync(root)) walk(root, '');
  return tree;
}

const OUTSIDE_ERROR = /symbolic link leads outside the deploy directory; refusing to publish/;

describe('symbolic links in the repository', () => {
  it('the two-revision attack (conf -> an outside directory, then conf/authorized_keys) never writes outside', async () => {
    const { deployDir, outside } = freshCase();
    const outsideBefore = treeOf(outside);
    const r1 = await svn.commit({ 'attack/index.html': '<h1>hi</h1>\n', 'attack/conf': { link: outside } }, 'conf is a link');
    await svn.commit({}, 'conf goes', { delete: ['attack/conf'] });
    const r3 = await svn.commit({ 'attack/conf/authorized_keys': 'ssh-ed25519 AAAA attacker\n' }, 'conf is a directory again');

    const first = await publish('attack', deployDir, { revision: r1 });
    const second = await publish('attack', deployDir, { revision: r3 });

    expect(treeOf(outside)).toEqual(outsideBefore);
    expect(first.error).toMatch(OUTSIDE_ERROR);
    expect(first.error).toContain(`conf -> ${outside}: symbolic link leads outside the deploy directory; refusing to publish`);
    expect(first.error).toContain('No host was touched.');
    expect(first.hostEvents).toEqual([]);
    // The second revision, without the link, lands inside the deploy directory as a real directory.
    expect(second.error).toBeNull();
    expect(second.final).toMatchObject({ status: 'succeeded' });
    expect(lstatSync(join(deployDir, 'conf')).isDirectory()).toBe(true);
    expect(readFileSync(join(deployDir, 'conf/authorized_keys'), 'utf8')).toBe('ssh-ed25519 AAAA attacker\n');
  });

  it('a relative link that climbs out of the export (../../x) is refused at packing, before any host is touched', async () => {
    const { deployDir } = freshCase();
    const rev = await svn.commit({ 'climb/index.html': 'x\n', 'climb/static/up': { link: '../../x' } }, 'relative escape');
    const job = await publish('climb', deployDir, { revision: rev });
    expect(job.error).toContain('static/up -> ../../x: symbolic link leads outside the deploy directory; refusing to publish');
    expect(job.hostEvents).toEqual([]);
    expect(treeOf(deployDir, { withFerry: true })).toEqual({});
  });

  it('a relative link that stays inside is published as a link, works on the host and rolls back', async () => {
    const { deployDir } = freshCase();
    const rev = await svn.commit({
      'inside/releases/v2/app.txt': 'version 2\n',
      'inside/current': { link: 'releases/v2' },
      'inside/bin/app.txt': { link: '../current/app.txt' },
    }, 'inside links');
    const job = await publish('inside', deployDir, { revision: rev });
    expect(job.error).toBeNull();
    expect(job.final).toMatchObject({ status: 'succeeded' });
    expect(readlinkSync(join(deployDir, 'current'))).toBe('releases/v2');
    expect(readlinkSync(join(deployDir, 'bin/app.txt'))).toBe('../current/app.txt');
    expect(readFileSync(join(deployDir, 'bin/app.txt'), 'utf8')).toBe('version 2\n');
    expect(await rollback(deployDir, [job.jobId])).toMatchObject({ status: 'succeeded' });
    expect(treeOf(deployDir)).toEqual({});
  });

  it('a before-publish hook never runs when the export holds a link to a file outside it', async () => {
    const { deployDir } = freshCase();
    const secretDir = join(scratch, 'server-data');
    mkdirSync(secretDir, { recursive: true });
    writeFileSync(join(secretDir, 'secret.key'), 'the server key\n');
    const stolen = join(scratch, 'stolen.txt');
    const rev = await svn.commit({ 'leak/index.html': 'x\n', 'leak/data': { link: secretDir } }, 'link to the server data');
    const job = await publish('leak', deployDir, {
      revision: rev,
      beforePublish: [{ name: 'minify', script: `cat data/secret.key > '${stolen}'` }],
    });
    expect(existsSync(stolen)).toBe(false);
    expect(job.error).toContain(`data -> ${secretDir}: symbolic link leads outside the deploy directory; refusing to publish`);
    expect(job.hostEvents).toEqual([]);
  });
});

describe('packing', () => {
  async function packTree(build: (dir: string) => Promise<void>) {
    const dir = await mkdtemp(join(scratch, 'pack-'));
    const src = join(dir, 'src');
    await mkdir(src);
    await build(src);
    return packDirectory(src, join(dir, 'out.tar.gz'), { revision: 1, manifestFile: false });
  }

  it('refuses links that escape only through another link, loops, and links into .ferry', async () => {
    // "here -> ." stays inside, but "here/.." is the parent of the export.
    await expect(packTree(async (src) => {
      await symlink('.', join(src, 'here'));
      await symlink('here/..', join(src, 'up'));
    })).rejects.toThrow('up -> here/..: symbolic link leads outside the deploy directory; refusing to publish');
    // "sub/up -> .." is the export itself; "sub/x -> up/.." reads as "sub" but resolves to the export's parent.
    await expect(packTree(async (src) => {
      await mkdir(join(src, 'sub'));
      await symlink('..', join(src, 'sub/up'));
      await symlink('up/..', join(src, 'sub/x'));
    })).rejects.toThrow('sub/x -> up/..: symbolic link leads outside the deploy directory; refusing to publish');
    await expect(packTree(async (src) => {
      await symlink('two', join(src, 'one'));
      await symlink('one', join(src, 'two'));
    })).rejects.toThrow(/one -> two: symbolic link cannot be resolved \(a loop of links\); refusing to publish/);
    await expect(packTree(async (src) => {
      await mkdir(join(src, '.ferry/journal'), { recursive: true });
      await writeFile(join(src, '.ferry/journal/7.files'), 'bin/run.sh\n');
    })).rejects.toThrow(".ferry: this name is reserved for Ferry's own files on the hosts; refusing to publish");
    await expect(packTree(async (src) => {
      await symlink('.ferry/snapshots', join(src, 'snap'));
    })).rejects.toThrow(/snap -> .ferry\/snapshots: symbolic link leads into Ferry's own \.ferry directory; refusing to publish/);
  });

  it('refuses a link that climbs back (..) out of a directory the export does not have', async () => {
    // On a host where data is a link to /srv, htdocs/x would be /srv/.. ; the export cannot tell, so it is refused.
    await expect(packTree(async (src) => {
      await mkdir(join(src, 'htdocs'));
      await symlink('../data/..', join(src, 'htdocs/x'));
    })).rejects.toThrow('htdocs/x -> ../data/..: symbolic link goes back up (..) from "data", which the release does not have; refusing to publish');
    await expect(packTree(async (src) => {
      await symlink('missing/../../x', join(src, 'y'));
    })).rejects.toThrow('y -> missing/../../x: symbolic link goes back up (..) from "missing", which the release does not have; refusing to publish');
  });

  it('refuses file names with control characters (line breaks would split the journal and FERRY_FILES)', async () => {
    await expect(packTree(async (src) => {
      await mkdir(join(src, 'conf'));
      await writeFile(join(src, 'conf/evil\nname.txt'), 'x\n');
    })).rejects.toThrow('"conf/evil\\nname.txt": file names with control characters (line breaks, tabs and the like) cannot be published; refusing to publish');
    await expect(packTree(async (src) => {
      await mkdir(join(src, 'tab\there'));
    })).rejects.toThrow('"tab\\there": file names with control characters');
  });

  it('packs chains of links that stay inside, including through a link to a directory', async () => {
    const result = await packTree(async (src) => {
      await mkdir(join(src, 'a/b'), { recursive: true });
      await writeFile(join(src, 'a/b/f.txt'), 'f\n');
      await symlink('a/b', join(src, 'deep'));
      await symlink('../deep/../../a/b/f.txt', join(src, 'a/via'));
      await symlink('deep', join(src, 'chain'));
      await symlink('missing/yet', join(src, 'dangling'));
    });
    expect(result.manifest.filter((m) => m.link).map((m) => `${m.path} -> ${m.link}`)).toEqual([
      'a/via -> ../deep/../../a/b/f.txt', 'chain -> deep', 'dangling -> missing/yet', 'deep -> a/b',
    ]);
  });
});

describe('symbolic links already on the host', () => {
  it('a host whose conf is a link to an outside directory fails before anything is written, snapshotted or changed', async () => {
    const { deployDir, outside } = freshCase();
    writeFileSync(join(outside, 'app.ini'), 'outside original\n');
    symlinkSync(outside, join(deployDir, 'conf'));
    const outsideBefore = treeOf(outside);
    const before = treeOf(deployDir);
    const rev = await svn.commit({
      'hostlink/index.html': '<h1>new</h1>\n',
      'hostlink/conf/authorized_keys': 'ssh-ed25519 AAAA attacker\n',
      'hostlink/conf/app.ini': 'new\n',
    }, 'conf files');
    const job = await publish('hostlink', deployDir, { revision: rev });

    expect(treeOf(outside)).toEqual(outsideBefore);
    expect(treeOf(deployDir)).toEqual(before);
    expect(job.error).toBeNull();
    expect(job.final).toMatchObject({ status: 'failed', snapshotTaken: false });
    expect(job.final?.error).toContain(`"conf" on web1 is a symbolic link to ${outside}, outside the deploy directory; Ferry does not write, snapshot or delete through it — nothing was changed on this host`);
    expect(job.output).toContain('"conf" on web1 is a symbolic link');
    expect(readdirSync(join(deployDir, '.ferry', 'snapshots'))).toEqual([]);
    expect(readdirSync(join(deployDir, '.ferry', 'incoming'))).toEqual([]);
  });

  it('a published file replaces a host link to an outside file instead of writing through it; rollback puts the link back', async () => {
    const { deployDir, outside } = freshCase();
    symlinkSync(join(outside, 'victim.txt'), join(deployDir, 'app.conf'));
    const rev = await svn.commit({ 'leaf/app.conf': 'published\n' }, 'app.conf');
    const job = await publish('leaf', deployDir, { revision: rev });
    expect(job.final).toMatchObject({ status: 'succeeded' });
    expect(lstatSync(join(deployDir, 'app.conf')).isFile()).toBe(true);
    expect(readFileSync(join(deployDir, 'app.conf'), 'utf8')).toBe('published\n');
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('must survive\n');
    expect(await rollback(deployDir, [job.jobId])).toMatchObject({ status: 'succeeded' });
    expect(readlinkSync(join(deployDir, 'app.conf'))).toBe(join(outside, 'victim.txt'));
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('must survive\n');
  });

  it('a host link into .ferry or to nowhere is refused as well', async () => {
    const { deployDir } = freshCase();
    mkdirSync(join(deployDir, '.ferry/snapshots'), { recursive: true });
    symlinkSync('.ferry/snapshots', join(deployDir, 'conf'));
    symlinkSync('missing/dir', join(deployDir, 'logs'));
    const rev = await svn.commit({ 'ferrydir/conf/1.tar.gz': 'not a snapshot\n', 'ferrydir/logs/today.log': 'x\n' }, 'into .ferry');
    const first = await publish('ferrydir', deployDir, { revision: rev, files: ['conf'] });
    expect(first.final?.error).toMatch(/^"conf" on web1 is a symbolic link into Ferry's own \.ferry directory \(.*\/\.ferry\/snapshots\); Ferry does not write/);
    const second = await publish('ferrydir', deployDir, { revision: rev, files: ['logs'] });
    expect(second.final?.error).toMatch(/^"logs" on web1 is a symbolic link that does not lead to an existing directory; Ferry does not write/);
    expect(readdirSync(join(deployDir, '.ferry/snapshots'))).toEqual([]);
  });

  it('extraction checks again: a link that appears after the snapshot was taken stops the host before tar writes', async () => {
    const { deployDir, outside } = freshCase();
    mkdirSync(join(deployDir, 'conf'));
    writeFileSync(join(deployDir, 'conf/app.ini'), 'before\n');
    const rev = await svn.commit({ 'race/conf/authorized_keys': 'attacker\n', 'race/conf/app.ini': 'published\n' }, 'conf files');
    let swapped = false;
    const job = await publish('race', deployDir, {
      revision: rev,
      // The engine waits for this event to be recorded before it extracts: the moment a racing host user would use.
      onEvent: (e) => {
        if (swapped || e.type !== 'host' || !e.snapshotTaken) return;
        swapped = true;
        rmSync(join(deployDir, 'conf'), { recursive: true });
        symlinkSync(outside, join(deployDir, 'conf'));
      },
    });
    expect(swapped).toBe(true);
    expect(treeOf(outside)).toEqual({ 'victim.txt': expect.stringMatching(/^file /) });
    // Nothing was published, so there is nothing a rollback could undo: the job's snapshot and journal are gone.
    expect(job.final).toMatchObject({ status: 'failed', snapshotTaken: false });
    expect(job.final?.error).toContain(`"conf" on web1 is a symbolic link to ${outside}, outside the deploy directory`);
    expect(readdirSync(join(deployDir, '.ferry', 'incoming'))).toEqual([]);
    expect(readdirSync(join(deployDir, '.ferry', 'snapshots'))).toEqual([]);
    expect(readdirSync(join(deployDir, '.ferry', 'journal'))).toEqual([]);
  });

  it('a link to a directory whose name is the deploy directory plus a trailing newline is outside, not the deploy root', async () => {
    const { deployDir } = freshCase();
    const twin = `${deployDir}\n`;
    mkdirSync(twin);
    writeFileSync(join(twin, 'app.ini'), 'twin original\n');
    symlinkSync(twin, join(deployDir, 'conf'));
    const rev = await svn.commit({ 'newline/conf/app.ini': 'published\n' }, 'conf/app.ini');
    const job = await publish('newline', deployDir, { revision: rev });
    expect(readFileSync(join(twin, 'app.ini'), 'utf8')).toBe('twin original\n');
    expect(job.final).toMatchObject({ status: 'failed', snapshotTaken: false });
    expect(job.final?.error).toContain('"conf" on web1 is a symbolic link to');
    expect(job.final?.error).toContain('outside the deploy directory');
  });

  it('rollback refuses to delete or restore through an outside link that appeared after the publish', async () => {
    const { deployDir, outside } = freshCase();
    mkdirSync(join(deployDir, 'conf'));
    writeFileSync(join(deployDir, 'conf/app.ini'), 'before\n');
    const rev = await svn.commit({ 'later/conf/authorized_keys': 'ops key\n', 'later/conf/app.ini': 'published\n' }, 'conf files');
    const job = await publish('later', deployDir, { revision: rev });
    expect(job.final).toMatchObject({ status: 'succeeded' });

    // Someone on the host swaps conf for a link to a directory that holds a file of the same name.
    writeFileSync(join(outside, 'authorized_keys'), 'the real keys\n');
    rmSync(join(deployDir, 'conf'), { recursive: true });
    symlinkSync(outside, join(deployDir, 'conf'));
    const outsideBefore = treeOf(outside);
    const before = treeOf(deployDir);

    const result = await rollback(deployDir, [job.jobId]);
    expect(treeOf(outside)).toEqual(outsideBefore);
    expect(treeOf(deployDir)).toEqual(before);
    expect(result).toMatchObject({ status: 'failed' });
    expect(result?.error).toContain(`"conf" on web1 is a symbolic link to ${outside}, outside the deploy directory`);
    expect(result?.error).toContain('nothing was changed on this host');
  });
});

/** A .tar.gz built with the system's GNU tar from `dir` (members as given, e.g. './a/b'), plus its sha256. */
function gnuTar(dir: string, members: string[], out: string, extra: string[] = []): { path: string; sha256: string } {
  execFileSync('tar', ['-c', '-z', '--no-recursion', ...extra, '-f', out, '-C', dir, ...members]);
  return { path: out, sha256: createHash('sha256').update(readFileSync(out)).digest('hex') };
}

describe("Ferry's own .ferry directory", () => {
  it('a link to the deploy root (a -> .) cannot carry a later revision into .ferry: any .ferry component is refused at packing', async () => {
    const { deployDir } = freshCase();
    const r1 = await svn.commit({ 'rootlink/index.html': 'x\n', 'rootlink/a': { link: '.' } }, 'a is the deploy root');
    const first = await publish('rootlink', deployDir, { revision: r1 });
    expect(first.final).toMatchObject({ status: 'succeeded' });
    expect(readlinkSync(join(deployDir, 'a'))).toBe('.');

    // The next job's own snapshot, planted through a/ (the attacker knows job ids count up).
    const victimJob = nextJobId;
    await svn.commit({}, 'a goes', { delete: ['rootlink/a'] });
    const r3 = await svn.commit({
      [`rootlink/a/.ferry/snapshots/${victimJob}.tar.gz`]: Buffer.from('crafted snapshot'),
      [`rootlink/a/.ferry/snapshots/${victimJob}.created`]: '',
    }, 'a is a directory holding .ferry');
    const second = await publish('rootlink', deployDir, { revision: r3 });

    expect(second.jobId).toBe(victimJob);
    expect(second.error).toContain("a/.ferry: this name is reserved for Ferry's own files on the hosts; refusing to publish");
    expect(second.hostEvents).toEqual([]);
    expect(existsSync(join(deployDir, `.ferry/snapshots/${victimJob}.tar.gz`))).toBe(false);
  });

  it('the host refuses a package member that goes through a directory named .ferry resolving into the deploy root\'s .ferry', async () => {
    const { deployDir } = freshCase();
    symlinkSync('.', join(deployDir, 'a'));
    const jobId = nextJobId++;
    const build = mkdtempSync(join(scratch, 'crafted-'));
    mkdirSync(join(build, 'a/.ferry/snapshots'), { recursive: true });
    writeFileSync(join(build, `a/.ferry/snapshots/${jobId}.tar.gz`), 'crafted snapshot');
    writeFileSync(join(build, `a/.ferry/snapshots/${jobId}.created`), '');
    const members = [`a/.ferry/snapshots/${jobId}.tar.gz`, `a/.ferry/snapshots/${jobId}.created`];
    const pkg = gnuTar(build, members, `${build}.tar.gz`);

    const result = await publishToHost({ session, deployDir, jobId, packagePath: pkg.path, packageSha256: pkg.sha256, manifestPaths: members });
    expect(result).toMatchObject({ ok: false, snapshotTaken: false });
    expect(result.error).toMatch(/^"a\/\.ferry" on web1 is Ferry's own \.ferry directory \(.*\/\.ferry\), reached through a symbolic link; Ferry does not write, snapshot or delete through it — nothing was changed on this host$/);
    expect(readdirSync(join(deployDir, '.ferry/snapshots'))).toEqual([]);
  });

  it('a rollback never restores owners or setuid/setgid bits from a snapshot, and says so', async () => {
    const { deployDir } = freshCase();
    const jobId = nextJobId++;
    const build = mkdtempSync(join(scratch, 'snapshot-'));
    execFileSync('cp', ['/bin/sh', join(build, 'tool')]);
    chmodSync(join(build, 'tool'), 0o4755);
    writeFileSync(join(build, 'shared.txt'), 'group writable\n');
    chmodSync(join(build, 'shared.txt'), 0o2664);
    writeFileSync(join(build, 'plain.txt'), 'plain\n');
    chmodSync(join(build, 'plain.txt'), 0o664);
    mkdirSync(join(deployDir, '.ferry/snapshots'), { recursive: true });
    gnuTar(build, ['./tool', './shared.txt', './plain.txt'], join(deployDir, `.ferry/snapshots/${jobId}.tar.gz`), ['--owner=12345', '--group=12345', '--numeric-owner']);
    writeFileSync(join(deployDir, `.ferry/snapshots/${jobId}.created`), '');
    const output: string[] = [];

    const result = await rollbackHost({ session, deployDir, jobIds: [jobId], onOutput: (text) => void output.push(text) });
    expect(result).toEqual({ ok: true, restoredJobIds: [jobId] });
    const uid = process.getuid?.() ?? 0;
    expect(statSync(join(deployDir, 'tool')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(deployDir, 'shared.txt')).mode & 0o7777).toBe(0o664);
    expect(statSync(join(deployDir, 'plain.txt')).mode & 0o7777).toBe(0o664);
    for (const name of ['tool', 'shared.txt', 'plain.txt']) expect(statSync(join(deployDir, name)).uid).toBe(uid);
    expect(output.join('')).toMatch(/setuid, setgid or sticky bits are not restored by a rollback: .*\.\/tool/);
    expect(output.join('')).toMatch(/not restored by a rollback: .*\.\/shared\.txt/);
  });
});

describe("the .ferry directories on the host", () => {
  it('a publish never uploads, snapshots or journals through .ferry or one of its directories when it is a symbolic link', async () => {
    for (const linked of ['.ferry', '.ferry/incoming', '.ferry/snapshots', '.ferry/journal']) {
      const { deployDir, outside } = freshCase();
      mkdirSync(join(deployDir, '.ferry/incoming'), { recursive: true });
      mkdirSync(join(deployDir, '.ferry/snapshots'), { recursive: true });
      mkdirSync(join(deployDir, '.ferry/journal'), { recursive: true });
      rmSync(join(deployDir, linked), { recursive: true });
      symlinkSync(outside, join(deployDir, linked));
      const outsideBefore = treeOf(outside);
      const rev = await svn.commit({ [`ferrylinks${caseNumber}/index.html`]: 'x\n' }, `index for ${linked}`);
      const job = await publish(`ferrylinks${caseNumber}`, deployDir, { revision: rev });
      expect(treeOf(outside), linked).toEqual(outsideBefore);
      expect(existsSync(join(deployDir, 'index.html')), linked).toBe(false);
      expect(job.final, linked).toMatchObject({ status: 'failed', snapshotTaken: false });
      expect(job.final?.error, linked).toBe(`"${linked}" on web1 is a symbolic link (to ${outside}); Ferry keeps its packages, snapshots and journal only in real directories the login user owns — nothing was changed on this host`);
    }
  });

  it('a .ferry directory that belongs to another user is refused before anything is moved or snapshotted', async () => {
    const { deployDir } = freshCase();
    for (const dir of ['incoming', 'snapshots', 'journal']) mkdirSync(join(deployDir, '.ferry', dir), { recursive: true });
    execFileSync('chown', ['12345:12345', join(deployDir, '.ferry/journal')]);
    const rev = await svn.commit({ 'ferryowner/index.html': 'x\n' }, 'index');
    const job = await publish('ferryowner', deployDir, { revision: rev });
    expect(job.final).toMatchObject({ status: 'failed', snapshotTaken: false });
    expect(job.final?.error).toBe('".ferry/journal" on web1 belongs to 12345, not to the login user; Ferry keeps its packages, snapshots and journal only in real directories the login user owns — nothing was changed on this host');
    expect(existsSync(join(deployDir, 'index.html'))).toBe(false);
    expect(readdirSync(join(deployDir, '.ferry/snapshots'))).toEqual([]);
  });

  it('a rollback does not restore a snapshot from a .ferry/snapshots that is a symbolic link', async () => {
    const { deployDir, outside } = freshCase();
    const rev = await svn.commit({ 'ferrysnap/index.html': 'published\n' }, 'index');
    const job = await publish('ferrysnap', deployDir, { revision: rev });
    expect(job.final).toMatchObject({ status: 'succeeded' });
    // Someone moves the real snapshots aside and links in a directory holding a crafted one.
    const crafted = join(outside, 'build');
    mkdirSync(crafted);
    writeFileSync(join(crafted, 'index.html'), 'crafted\n');
    gnuTar(crafted, ['./index.html'], join(outside, `${job.jobId}.tar.gz`));
    writeFileSync(join(outside, `${job.jobId}.created`), '');
    rmSync(join(deployDir, '.ferry/snapshots'), { recursive: true });
    symlinkSync(outside, join(deployDir, '.ferry/snapshots'));

    const result = await rollback(deployDir, [job.jobId]);
    expect(result).toMatchObject({ status: 'failed' });
    expect(result?.error).toContain(`".ferry/snapshots" on web1 is a symbolic link (to ${outside})`);
    expect(readFileSync(join(deployDir, 'index.html'), 'utf8')).toBe('published\n');
  });
});
