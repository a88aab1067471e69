// Preview of a publish: per target host, the selected files split into new, changed, unchanged (the same bytes are
// already there) and drifted (the file on the host no longer matches what Ferry last put there: a hand edit). The
// package is prepared through the engine's release source, so the publish that follows reuses it; each host is
// checked with one command. The publish itself checks for hand edits in its own command on each host (steps/drift.ts).
import type { HostCheck, RemoteFile } from '../../deploy/inspect.ts';
import { HOST_CHECK } from '../../config.ts';
import { decryptSecret } from '../../lib/crypto.ts';
import { FerryError } from '../../lib/errors.ts';
import { tk } from '../../lib/messages.ts';
import type { Ctx } from '../context.ts';
import { assertCan } from '../permissions.ts';
import { recordedFiles } from './host-files.ts';
import type { JobCore } from './launch.ts';
import { concurrencyOf, hostPlans } from './plans.ts';
import { publishSpec, type PublishInput, type PublishSpec } from './publish.ts';
import { projectFor, type ProjectFull } from './store.ts';

/** What an operator reads; kept together for the translation that follows (message keys, see src/lib/messages.ts). */
export const PREVIEW_TEXT = {
  noEngine: tk('Previews are not available on this Ferry server.'),
  // Shown per host by the publish dialog, which translates them (a host's own error text is left as it is).
  refusedDir: tk('not checked: the deploy directory of this host is not allowed (see the host settings)'),
  link: tk('a symbolic link on the host'),
  outside: tk('leads outside the deploy directory on the host'),
  other: tk('not a regular file on the host'),
};

export interface DriftedFile {
  path: string;
  /** What Ferry last put there. */
  recorded: { sha256: string; size: number; jobId: number; revision: number | null };
  /** What is there now; null when the file was deleted. */
  actual: { sha256: string; size: number } | null;
}

export interface HostPreview {
  host: string;
  hostId: number;
  /** False when the host could not be checked; `error` says why in plain words and the lists are empty. */
  reachable: boolean;
  error?: string;
  new: string[];
  changed: string[];
  unchanged: string[];
  drifted: DriftedFile[];
  /** Files that would change and are not plain files on the host (links, folders), with why. */
  notes: { path: string; note: string }[];
  /** Ferry's recorded revision per changed file, for a diff against the revision being published. */
  recordedRevisions: Record<string, number | null>;
}

export interface PublishPreview {
  revision: number;
  fileCount: number;
  hosts: HostPreview[];
}

type Manifest = { path: string; sha256: string; size: number }[];
type Recorded = Awaited<ReturnType<typeof recordedFiles>>;

function classify(hostId: number, check: HostCheck, manifest: Manifest, recorded: Recorded): HostPreview {
  const entry: HostPreview = { host: check.host, hostId, reachable: check.ok, new: [], changed: [], unchanged: [], drifted: [], notes: [], recordedRevisions: {} };
  if (!check.ok) return { ...entry, error: check.error };
  const records = recorded.get(hostId);
  for (const file of manifest) {
    const there: RemoteFile = check.files.get(file.path) ?? { kind: 'other' };
    const record = records?.get(file.path);
    if (record) entry.recordedRevisions[file.path] = record.revision;
    if (there.kind === 'file' && there.sha256 === file.sha256 && there.size === file.size) entry.unchanged.push(file.path);
    else if (there.kind === 'missing') entry.new.push(file.path);
    else if (record && there.kind === 'file' && (there.sha256 !== record.sha256 || there.size !== record.size)) {
      entry.drifted.push({ path: file.path, recorded: { sha256: record.sha256, size: record.size, jobId: record.jobId, revision: record.revision }, actual: { sha256: there.sha256, size: there.size } });
    } else {
      entry.changed.push(file.path);
      if (there.kind !== 'file') entry.notes.push({ path: file.path, note: PREVIEW_TEXT[there.kind] });
    }
  }
  return entry;
}

/** Checks the hosts of a checked publish spec against its package; hosts the stored settings refuse answer unreachable. */
export async function previewSpec(core: JobCore, ctx: Ctx, project: ProjectFull, spec: PublishSpec): Promise<PublishPreview> {
  return (await previewWithManifest(core, ctx, project, spec)).preview;
}

async function previewWithManifest(core: JobCore, ctx: Ctx, project: ProjectFull, spec: PublishSpec): Promise<{ preview: PublishPreview; files: Manifest }> {
  const { svc, engine } = core;
  if (!engine.releaseManifest || !engine.checkHosts) throw new FerryError('unavailable', PREVIEW_TEXT.noEngine);
  const password = project.svnPasswordEnc ? decryptSecret(svc.secretKey, project.svnPasswordEnc) : null;
  const manifest = await engine.releaseManifest({ project: project.name, svn: { url: project.svnUrl, username: project.svnUsername, password }, revision: spec.revision, files: spec.files, ...(spec.exclude.length ? { exclude: spec.exclude } : {}) });
  const plans = await hostPlans(svc, { ctx, jobId: 0, kind: 'preview', emit: () => undefined }, project, spec.hosts.map((h) => h.id));
  const usable = spec.hosts.filter((h) => plans.has(h.id));
  const checks = await engine.checkHosts(usable.map((h) => plans.get(h.id)!), manifest.files.map((f) => f.path), concurrencyOf(project));
  const recorded = await recordedFiles(svc, project.id, usable.map((h) => h.id), manifest.files.length <= HOST_CHECK.recordQueryPaths ? manifest.files.map((f) => f.path) : undefined);
  const byName = new Map(checks.map((c) => [c.host, c]));
  const hosts = spec.hosts.map((h) => {
    const check: HostCheck = byName.get(plans.get(h.id)?.name ?? '') ?? { host: h.name, ok: false, error: PREVIEW_TEXT.refusedDir };
    return classify(h.id, check, manifest.files, recorded);
  });
  return { preview: { revision: manifest.revision, fileCount: manifest.files.length, hosts }, files: manifest.files };
}

/** GET /api/projects/:name/preview: the same checks and permission as a publish, nothing changed anywhere. */
export async function previewPublish(core: JobCore, ctx: Ctx, projectName: string, input: PublishInput): Promise<PublishPreview> {
  const project = await projectFor(core.svc, ctx, projectName, 'publish.preview');
  await assertCan(core.svc, ctx, 'publish', project, 'publish.preview');
  return previewSpec(core, ctx, project, await publishSpec(core.svc, ctx, project, input));
}
