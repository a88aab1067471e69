// A throwaway Subversion repository served by a real svnserve on 127.0.0.1, for integration tests.
// Test commits go straight to the repository over file:// from a private working copy (no network auth needed).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runFile } from '../../src/lib/exec.ts';
import { freePort } from './ports.ts';

export { freePort };

/** File content, a file with its executable bit and other svn properties, or a symbolic link (committed as svn:special) to `link`. */
export type CommitFile = string | Buffer | { content: string | Buffer; executable?: boolean; props?: Record<string, string> } | { link: string };

export interface SvnServer {
  /** svn:// URL of the repository root. */
  url: string;
  /** Filesystem path of the repository. */
  root: string;
  username: string;
  password: string;
  /** Commits files (paths relative to the repository root, parents created) and deletions; returns the new revision. */
  commit(files: Record<string, CommitFile>, message: string, opts?: { delete?: string[] }): Promise<number>;
  stop(): Promise<void>;
}

const SVN_ENV = { LC_ALL: 'C.UTF-8' };

async function svn(args: string[], cwd?: string): Promise<string> {
  const result = await runFile('svn', args, { cwd, env: SVN_ENV, timeoutMs: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.code !== 0) throw new Error(`svn ${args[0]} failed: ${result.stderr.trim()}`);
  return result.stdout;
}


function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`svnserve exited: ${output()}`);
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`svnserve did not listen on 127.0.0.1:${port}: ${output()}`);
}

export async function startSvnServer(opts: { users?: Record<string, string> } = {}): Promise<SvnServer> {
  const users = opts.users ?? { alice: 'S3cret-pässword!' };
  const [username, password] = Object.entries(users)[0] ?? ['alice', 'S3cret-pässword!'];
  const base = await mkdtemp(join(tmpdir(), 'ferry-svnserve-'));
  const root = join(base, 'repo');
  const wc = join(base, 'wc');

  await runFile('svnadmin', ['create', root]).then((r) => {
    if (r.code !== 0) throw new Error(`svnadmin create failed: ${r.stderr}`);
  });
  await writeFile(
    join(root, 'conf', 'svnserve.conf'),
    ['[general]', 'anon-access = none', 'auth-access = write', 'password-db = passwd', 'realm = ferry-test', ''].join('\n'),
  );
  const passwd = ['[users]', ...Object.entries(users).map(([user, pass]) => `${user} = ${pass}`), ''].join('\n');
  await writeFile(join(root, 'conf', 'passwd'), passwd, { mode: 0o600 });

  let child: ChildProcess | null = null;
  let port = 0;
  let output = '';
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    output = '';
    const candidate = spawn('svnserve', ['-d', '--foreground', '--listen-host', '127.0.0.1', '--listen-port', String(port), '-r', base], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    candidate.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    candidate.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitForPort(port, candidate, () => output);
      child = candidate;
    } catch (error) {
      candidate.kill('SIGKILL');
      if (attempt === 4) throw error;
    }
  }

  const rootUrl = pathToFileURL(root).href;
  await svn(['checkout', '--quiet', '--config-dir', join(base, 'config'), rootUrl, wc]);

  async function commit(files: Record<string, CommitFile>, message: string, commitOpts: { delete?: string[] } = {}): Promise<number> {
    const common = ['--config-dir', join(base, 'config'), '--non-interactive'];
    await svn(['update', '--quiet', ...common], wc);
    for (const [path, file] of Object.entries(files)) {
      const target = join(wc, path);
      await mkdir(dirname(target), { recursive: true });
      if (typeof file === 'object' && 'link' in file) {
        await rm(target, { force: true });
        await symlink(file.link, target);
      } else {
        await writeFile(target, typeof file === 'string' || Buffer.isBuffer(file) ? file : file.content);
      }
    }
    await svn(['add', '--force', '--quiet', ...common, '.'], wc);
    for (const [path, file] of Object.entries(files)) {
      if (typeof file === 'string' || Buffer.isBuffer(file) || 'link' in file) continue;
      for (const [name, value] of Object.entries(file.props ?? {})) await svn(['propset', '--quiet', ...common, name, value, `${path}@`], wc);
      if (file.executable === undefined) continue;
      if (file.executable) await svn(['propset', '--quiet', ...common, 'svn:executable', '*', `${path}@`], wc);
      else await svn(['propdel', '--quiet', ...common, 'svn:executable', `${path}@`], wc);
    }
    for (const path of commitOpts.delete ?? []) await svn(['rm', '--quiet', ...common, `${path}@`], wc);
    const out = await svn(['commit', ...common, '--username', username, '-m', message], wc);
    const committed = /Committed revision (\d+)\./.exec(out);
    if (committed) return Number(committed[1]);
    const info = await svn(['info', '--show-item', 'revision', ...common, rootUrl]);
    return Number(info.trim());
  }

  async function stop(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(base, { recursive: true, force: true });
  }

  return { url: `svn://127.0.0.1:${port}/repo`, root, username, password, commit, stop };
}
