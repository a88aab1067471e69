// Ferry's record of what it put on each host (HostFile: path, sha256, size, job, revision per project and host):
// written when a publish succeeds on a host, forgotten for the files of publishes a rollback undid there.
//
// After a rollback of job J on host H the restored files are whatever was there before J, which Ferry recorded only
// until J's publish replaced those rows; keeping every publish's manifest to bring them back would grow without bound.
// So rows written by the undone publishes are deleted: those paths are "not recorded" (never reported as drifted)
// until the next publish of them records them again.
import type { JobEvent } from '../../deploy/types.ts';
import type { Services } from '../context.ts';

export interface PublishedFile { path: string; sha256: string; size: number }

/**
 * Records `files` as what job `jobId` put on each host in `hostIds`: one upsert statement for every host and file,
 * the rows made by SQLite from two JSON parameters. (Per host deleteMany + createMany through Prisma took 2.5 s for
 * 301 files on 12 hosts, at the end of every publish.)
 */
export async function recordHostFiles(svc: Pick<Services, 'db'>, projectId: number, hostIds: number[], jobId: number, revision: number, files: readonly PublishedFile[]): Promise<void> {
  if (hostIds.length === 0 || files.length === 0) return;
  const hosts = JSON.stringify(hostIds);
  const rows = JSON.stringify(files.map((f) => [f.path, f.sha256, f.size]));
  // "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join in the SELECT.
  await svc.db.$executeRaw`INSERT INTO HostFile (projectId, hostId, path, sha256, size, jobId, revision, updatedAt)
    SELECT ${projectId}, h.value, f.value ->> 0, f.value ->> 1, f.value ->> 2, ${jobId}, ${revision}, ${new Date()}
    FROM json_each(${hosts}) AS h, json_each(${rows}) AS f WHERE true
    ON CONFLICT (projectId, hostId, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, jobId = excluded.jobId,
      revision = excluded.revision, updatedAt = excluded.updatedAt`;
}

/** A rollback restored the snapshots of `jobIds` on this host: what those publishes recorded no longer holds. */
export async function forgetHostFiles(svc: Pick<Services, 'db'>, projectId: number, hostId: number, jobIds: number[]): Promise<void> {
  await svc.db.hostFile.deleteMany({ where: { projectId, hostId, jobId: { in: jobIds } } });
}

/** Per host, the recorded files among `paths` (all of them when paths is undefined). */
export async function recordedFiles(svc: Pick<Services, 'db'>, projectId: number, hostIds: number[], paths?: readonly string[]) {
  const rows = await svc.db.hostFile.findMany({
    where: { projectId, hostId: { in: hostIds }, ...(paths ? { path: { in: [...paths] } } : {}) },
    select: { hostId: true, path: true, sha256: true, size: true, jobId: true, revision: true },
  });
  const byHost = new Map<number, Map<string, (typeof rows)[number]>>();
  for (const row of rows) {
    if (!byHost.has(row.hostId)) byHost.set(row.hostId, new Map());
    byHost.get(row.hostId)!.set(row.path, row);
  }
  return byHost;
}

/**
 * Per host, what a publish sends for its drift check: path, sha256 and size of every recorded file, read as one
 * string per host built by SQLite (19,000 rows through Prisma's row objects raised a 64-host publish's peak memory by
 * ~40 MB). Hosts whose records are the same (a fleet that got the same releases) share one list, read once. Paths
 * never hold the separators (control characters 0x1e/0x1f are refused in packages).
 */
export async function recordedHashes(svc: Pick<Services, 'db'>, projectId: number, hostIds: number[]): Promise<Map<number, readonly PublishedFile[]>> {
  const byHost = new Map<number, readonly PublishedFile[]>();
  if (hostIds.length === 0) return byHost;
  const rows = await svc.db.$queryRaw<{ hostId: number; files: string }[]>`
    SELECT hostId, group_concat(path || char(31) || sha256 || char(31) || size, char(30)) AS files
    FROM (SELECT hostId, path, sha256, size FROM HostFile
      WHERE projectId = ${projectId} AND hostId IN (SELECT value FROM json_each(${JSON.stringify(hostIds)})) ORDER BY hostId, path)
    GROUP BY hostId`;
  const lists = new Map<string, readonly PublishedFile[]>();
  for (const row of rows) {
    let files = lists.get(row.files);
    if (!files) {
      files = row.files.split('\x1e').map((entry) => {
        const [path, sha256, size] = entry.split('\x1f');
        return { path, sha256, size: Number(size) };
      });
      lists.set(row.files, files);
    }
    byHost.set(Number(row.hostId), files);
  }
  return byHost;
}

/** Wraps a publish's event sink: remembers which hosts succeeded (or already held every file), so their files can be recorded once the job knows them. */
export function succeededHosts<E extends (event: JobEvent) => void | Promise<void>>(emit: E): { emit: (event: JobEvent) => void | Promise<void>; names: Set<string> } {
  const names = new Set<string>();
  return {
    names,
    emit: (event) => {
      if (event.type === 'host') {
        if (event.status === 'succeeded' && (event.phase === 'done' || event.phase === 'unchanged')) names.add(event.host);
        else names.delete(event.host);
      }
      return emit(event);
    },
  };
}
