// What is published: generated trees committed to a local svnserve repository, one project path per payload kind,
// with what the baselines send instead (the file itself, or one pre-built tar.gz of the export) and the check that a
// target received it.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { runFile } from '../../../src/lib/exec.ts';
import type { SvnServer } from '../../../test/kit/svnserve.ts';
import { mib, now, secs } from '../common.ts';
import type { PayloadKind } from './scenarios.ts';

/** The small scenario's file: what a user changes and publishes on its own. */
export const CONFIG_FILE = 'conf/app.ini';
const BIG_FILE = 'data/big.bin';

export interface Payload {
  kind: PayloadKind;
  /** Path of the project in the repository. */
  svnPath: string;
  /** What Ferry is asked to publish, relative to the project. */
  selection: string[];
  /** One line for the report. */
  description: string;
  /** The file the ssh loop and Ansible send: the config file, or a tar.gz of the export (built once, not timed). */
  baselineFile: string;
  /** Brings a target's deploy directory to its state before a publish. */
  prepare(dir: string): Promise<void>;
  /** Null when the target holds the payload, else what is wrong. */
  verify(dir: string): Promise<string | null>;
}

export interface PayloadSizes {
  buildMb: number;
  buildFiles: number;
  hugeMb: number;
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await runFile(cmd, args, { cwd, timeoutMs: 2 * 3600_000, maxBuffer: 16 * 1024 * 1024 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

const WORDS = 'zone server config level spawn map guild item drop rate boss timer shard region player match queue reward event patch'.split(' ');
const word = () => WORDS[Math.floor(Math.random() * WORDS.length)];

/** `key = value` lines up to about `bytes`. */
function textFile(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const line = `${word()}_${Math.floor(Math.random() * 1000)} = ${randomBytes(6).toString('hex')} ${word()}`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

const configFile = (version: string) => `[app]\nversion = ${version}\n${textFile(1000)}`;

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const c of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) hash.update(c);
  return hash.digest('hex');
}

async function countFiles(dir: string, skipTop: string[] = []): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (skipTop.includes(entry.name)) continue;
    if (entry.isDirectory()) n += await countFiles(path.join(dir, entry.name));
    else if (entry.isFile()) n++;
  }
  return n;
}

/** One incompressible file of `sizeMb` MiB plus `smallFiles` text files in four folders; returns the big file's sha256. */
async function writeBuildTree(dir: string, sizeMb: number, smallFiles: number): Promise<string> {
  await mkdir(path.join(dir, path.dirname(BIG_FILE)), { recursive: true });
  const hash = createHash('sha256');
  const out = createWriteStream(path.join(dir, BIG_FILE));
  for (let i = 0; i < sizeMb; i++) {
    const buf = randomBytes(1024 * 1024);
    hash.update(buf);
    if (!out.write(buf)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const kinds = [['conf', 'ini'], ['scripts', 'lua'], ['maps', 'json'], ['docs', 'txt']] as const;
  for (let i = 0; i < smallFiles; i++) {
    const [sub, ext] = kinds[i % kinds.length];
    const rel = sub === 'maps' ? `${sub}/zone-${i % 10}/m${i}.${ext}` : `${sub}/f${i}.${ext}`;
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), textFile(200 + Math.floor(Math.random() * 12_000)));
  }
  return hash.digest('hex');
}

/** Generates, commits and exports the payloads of the chosen kinds; `step` reports progress. */
export async function preparePayloads(kinds: PayloadKind[], svn: SvnServer, work: string, sizes: PayloadSizes, step: (text: string) => void): Promise<Map<PayloadKind, Payload>> {
  const svnConfig = ['--non-interactive', '--config-dir', path.join(work, 'svn-config')];
  const payloads = new Map<PayloadKind, Payload>();
  for (const kind of kinds) {
    const src = path.join(work, 'src', kind);
    const exportDir = path.join(work, 'export', kind);
    const t0 = now();
    let bigSha256 = '';
    if (kind === 'small') {
      await mkdir(path.join(src, path.dirname(CONFIG_FILE)), { recursive: true });
      await writeFile(path.join(src, CONFIG_FILE), configFile('2'));
    } else {
      const [sizeMb, files] = kind === 'build' ? [sizes.buildMb, sizes.buildFiles] : [sizes.hugeMb, sizes.buildFiles];
      step(`generating the ${kind} tree: ${sizeMb} MiB random file + ${files} small files`);
      bigSha256 = await writeBuildTree(src, sizeMb, files);
    }
    step(`svn import + export of the ${kind} tree`);
    await run('svn', ['import', '--quiet', ...svnConfig, '-m', `bench ${kind}`, src, `file://${svn.root}/${kind}`]);
    await rm(src, { recursive: true, force: true });
    await run('svn', ['export', '--quiet', ...svnConfig, `file://${svn.root}/${kind}`, exportDir]);
    if (kind === 'small') {
      const file = path.join(exportDir, CONFIG_FILE);
      const sha256 = await sha256File(file);
      const old = configFile('1');
      payloads.set(kind, {
        kind, svnPath: kind, selection: [CONFIG_FILE], baselineFile: file,
        description: `${CONFIG_FILE} (${(await stat(file)).size} bytes), replacing an older version on each target`,
        async prepare(dir) {
          await mkdir(path.join(dir, path.dirname(CONFIG_FILE)), { recursive: true });
          await writeFile(path.join(dir, CONFIG_FILE), old);
        },
        async verify(dir) {
          const sum = await sha256File(path.join(dir, CONFIG_FILE)).catch(() => 'missing');
          return sum === sha256 ? null : `${CONFIG_FILE}: ${sum.slice(0, 12)} != ${sha256.slice(0, 12)}`;
        },
      });
      continue;
    }
    const expectedFiles = await countFiles(exportDir);
    const pkg = path.join(work, `${kind}.tar.gz`);
    await run('tar', ['czf', pkg, '-C', exportDir, '.']);
    const pkgBytes = (await stat(pkg)).size;
    await rm(exportDir, { recursive: true, force: true });
    payloads.set(kind, {
      kind, svnPath: kind, selection: ['.'], baselineFile: pkg,
      description: `${expectedFiles} files: ${BIG_FILE} (${kind === 'build' ? sizes.buildMb : sizes.hugeMb} MiB random) + ${expectedFiles - 1} text files; ` +
        `the baselines' tar.gz ${mib(pkgBytes)} (built once, not timed); prepared in ${secs(now() - t0)}`,
      prepare: async () => undefined,
      async verify(dir) {
        const sum = await sha256File(path.join(dir, BIG_FILE)).catch(() => 'missing');
        if (sum !== bigSha256) return `${BIG_FILE}: ${sum.slice(0, 12)} != ${bigSha256.slice(0, 12)}`;
        const files = await countFiles(dir, ['.ferry']);
        return files === expectedFiles ? null : `${files} files, expected ${expectedFiles}`;
      },
    });
  }
  return payloads;
}
