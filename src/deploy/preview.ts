// The engine's read-only side for previews and drift checks: the manifest a publish would send (packed through the
// release source, so the publish that follows reuses the package) and what each host holds now.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HOST_CHECK } from '../config.ts';
import { operatorMessage } from '../lib/errors.ts';
import { CHECK_TIMEOUT_MS, fetchFromHost, hashOnHost, type HostCheck } from './inspect.ts';
import type { ManifestEntry } from './pack/index.ts';
import { forEachHostLimited } from './remote.ts';
import type { Engine, HostPlan } from './runner-types.ts';
import type { ReleaseSource } from './source.ts';
import type { ConnectOptions, EngineLogger, HostTarget, RemoteSession } from './types.ts';


/** The regular files of a manifest (links are not recorded: their content is their target). */
export function regularFiles(manifest: readonly ManifestEntry[]): { path: string; sha256: string; size: number }[] {
  return manifest.filter((m) => m.link === undefined).map((m) => ({ path: m.path, sha256: m.sha256, size: m.size }));
}

interface InspectionDeps {
  source: ReleaseSource;
  connectTo: (target: HostTarget, extra?: ConnectOptions) => Promise<RemoteSession>;
  workDir?: string;
  logger: EngineLogger;
}

export function inspection(deps: InspectionDeps): Required<Pick<Engine, 'releaseManifest' | 'checkHosts' | 'fetchHostFile'>> {
  const withSession = async <T>(plan: HostPlan, work: (session: RemoteSession) => Promise<T>): Promise<T> => {
    const session = await deps.connectTo(plan.target, { connectTimeoutMs: HOST_CHECK.connectTimeoutMs });
    try {
      return await work(session);
    } finally {
      await session.close().catch(() => undefined);
    }
  };

  return {
    async releaseManifest(req) {
      const work = await mkdtemp(path.join(deps.workDir ?? os.tmpdir(), 'ferry-preview-'));
      try {
        const prepared = await deps.source.prepare({ projectKey: req.project, svn: req.svn, revision: req.revision, files: req.files, ...(req.exclude?.length ? { exclude: req.exclude } : {}), workDir: work });
        await prepared.release();
        return { revision: prepared.revision, files: regularFiles(prepared.manifest) };
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },

    async checkHosts(hosts, paths, concurrency) {
      const settled = await forEachHostLimited(hosts, concurrency, (plan) => withSession(plan, (session) => hashOnHost(session, plan.deployDir, paths, CHECK_TIMEOUT_MS)));
      return settled.map((result, i): HostCheck => result.status === 'fulfilled'
        ? { host: hosts[i].name, ok: true, files: result.value }
        : { host: hosts[i].name, ok: false, error: operatorMessage(result.reason, deps.logger, { host: hosts[i].name }) });
    },

    fetchHostFile(host, filePath) {
      return withSession(host, (session) => fetchFromHost(session, host.deployDir, filePath));
    },
  };
}
