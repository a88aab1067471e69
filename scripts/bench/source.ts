// Release source benchmark: today's `svn export` + pack against ReleaseSource (working copy + package cache), from a
// local svnserve repository of N small files and one large random file, reached through a TCP relay that counts the
// bytes SVN sends (what a slower link would have to carry). Prints numbers; asserts nothing.
//   npx tsx scripts/bench/source.ts [--small 300] [--size 32] [--runs 3]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packDirectory } from '../../src/deploy/pack/index.ts';
import { ReleaseSource, type PrepareRequest } from '../../src/deploy/source.ts';
import { SvnClient, type SvnRepository } from '../../src/deploy/svn/index.ts';
import { runFile } from '../../src/lib/exec.ts';
import { startTcpProxy } from '../../test/kit/sshd.ts';
import { startSvnServer } from '../../test/kit/svnserve.ts';
import { intFlag, machineSummary, median, mib, ms, now, parseFlags, runBench, table } from './common.ts';

const flags = parseFlags(process.argv.slice(2));
const SMALL_FILES = intFlag(flags, 'small', 300);
const SIZE_MB = intFlag(flags, 'size', 32);
const RUNS = intFlag(flags, 'runs', 3);
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const step = (text: string) => process.stderr.write(`[bench] ${text}\n`);
const size = (bytes: number) => (bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : mib(bytes));

const smallPath = (i: number) => `site/d${i % 10}/page-${i}.html`;
const smallContent = (i: number, version: number) => `<p>page ${i} v${version}</p>\n${'lorem ipsum '.repeat(150)}\n`;

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const t0 = now();
  const value = await work();
  return [now() - t0, value];
}

async function main() {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-source-'));
  const server = await startSvnServer();
  try {
    step(`committing ${SMALL_FILES} small files + ${SIZE_MB} MiB random file`);
    const files: Record<string, string | Buffer> = { 'trunk/data/big.bin': randomBytes(SIZE_MB * 1024 * 1024) };
    for (let i = 0; i < SMALL_FILES; i++) files[`trunk/${smallPath(i)}`] = smallContent(i, 1);
    const r1 = await server.commit(files, 'r1');
    const r2 = await server.commit({ [`trunk/${smallPath(7)}`]: smallContent(7, 2) }, 'one small file changed');
    const svnPort = Number(new URL(server.url).port);
    const relay = await startTcpProxy(svnPort);
    const repo: SvnRepository = { url: `svn://127.0.0.1:${relay.port}/repo/trunk`, username: server.username, password: server.password };
    const everything = ['.'];
    const oneByOne = Array.from({ length: SMALL_FILES }, (_, i) => smallPath(i));

    const results = new Map<string, number[]>();
    const received = new Map<string, number>();
    const record = (label: string, value: number) => results.set(label, [...(results.get(label) ?? []), value]);
    /** Times `work` and records the bytes SVN sent meanwhile (the same in every run). */
    const measured = async <T>(label: string, work: () => Promise<T>): Promise<[number, T]> => {
      relay.resetBytes();
      const result = await timed(work);
      received.set(label, relay.bytes().down);
      return result;
    };
    let jobs = 0;
    const request = async (files: string[], revision: number, extra: Partial<PrepareRequest> = {}): Promise<PrepareRequest> =>
      ({ projectKey: 'bench', svn: repo, revision, files, workDir: await mkdtemp(path.join(work, `job-${++jobs}-`)), ...extra });

    for (let run = 1; run <= RUNS; run++) {
      step(`run ${run}/${RUNS}`);
      for (const [name, selection] of [['whole tree', everything], [`${SMALL_FILES} files picked one by one`, oneByOne]] as const) {
        const exportDir = path.join(work, `export-${run}-${selection.length}`);
        const [exportMs] = await measured(`${name}: today, svn export`, () => new SvnClient(repo, runFile).exportSelection(selection, r1, exportDir));
        const [packMs] = await timed(() => packDirectory(exportDir, `${exportDir}.tar.gz`, { revision: r1, manifestFile: false }));
        record(`${name}: today, svn export`, exportMs);
        record(`${name}: today, pack`, packMs);
        record(`${name}: today, export + pack`, exportMs + packMs);

        const source = new ReleaseSource({ runFile, logger: quiet, cacheDir: path.join(work, `cache-${run}-${selection.length}`) });
        const prepare = async (label: string, req: PrepareRequest) => {
          let synced = NaN;
          const t0 = now();
          const [total, prepared] = await measured(`${name}: ${label}`, () => source.prepare({ ...req, onStep: () => (synced = now() - t0) }));
          await prepared.release();
          record(`${name}: ${label}`, total);
          if (!prepared.reused) record(`${name}: ${label} (svn part)`, synced);
          return prepared;
        };
        await prepare('first publish (checkout + pack)', await request(selection, r1));
        await prepare('same revision again (package reused)', await request(selection, r1));
        await prepare('next revision, 1 file changed (update + pack)', await request(selection, r2));
        await prepare('back to r1 with a before-publish hook (update + copy + pack)', await request(selection, r1, { beforePublish: async () => undefined }));
        await rm(exportDir, { recursive: true, force: true });
      }
    }
    process.stdout.write(`\nRelease source benchmark: ${SMALL_FILES} small files + ${SIZE_MB} MiB random file, svnserve on 127.0.0.1, median of ${RUNS}\n`);
    process.stdout.write(`${machineSummary()}\n\n`);
    const rows = [...results].map(([label, values]) => [label, ms(median(values)), received.has(label) ? size(received.get(label) ?? 0) : '', values.map((v) => v.toFixed(0)).join(' / ')]);
    process.stdout.write(`${table(['scenario', 'median', 'from SVN', 'all runs (ms)'], rows)}\n`);
    await relay.close();
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

runBench('source benchmark', main);
