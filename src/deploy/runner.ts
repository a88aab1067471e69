// The release engine: composes export -> before-publish hooks -> pack -> per-host publish (staged through relays where
// that saves bandwidth), and rollback and process control, fanned out over hosts with a bound. It reports progress
// only through the event sink.
import { FerryError, operatorMessage } from '../lib/errors.ts';
import { DEFAULTS } from '../config.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import type { RunFile } from '../lib/exec.ts';
import { runHookChain, runLocalHook, hookLabel } from './hooks.ts';
import { PackError } from './pack/index.ts';
import { runProcessAction } from './processes.ts';
import { reportPublishResult } from './host-report.ts';
import { forEachHostLimited } from './remote.ts';
import { startRelayStaging, type HostReporter } from './relay/index.ts';
import { inspection, regularFiles } from './preview.ts';
import { publishToHost, rollbackHost } from './release.ts';
import { PackageFeed } from './release/feed.ts';
import { releaseLists } from './release/publish.ts';
import { readChunkBytes } from './release/protocol.ts';
import type { Engine, HostPlan, ProcessRequest, PublishOutcome, PublishRequest, RollbackRequest } from './runner-types.ts';
import { ReleaseSource, type PreparedPackage } from './source.ts';
import { UploadThrottle } from './upload-progress.ts';
import type { ConnectOptions, EngineLogger, EventSink, HostTarget, RemoteSession, Transport } from './types.ts';

export interface EngineDeps {
  transport: Transport;
  runFile: RunFile;
  logger: EngineLogger;
  /** Where exports and packages are built; default the OS temp dir. */
  workDir?: string;
  /** Pins the key of a host that had none (first successful connect). */
  onNewHostKey?: ConnectOptions['onNewHostKey'];
  connectTimeoutMs?: number;
  /** Working copies and reusable packages (source.ts); default a private directory under the OS temp dir. */
  cacheDir?: string;
  /** Relay mode auto: tunnel below this many package bytes × hosts behind one relay (default RELAY_TUNNEL_MAX_BYTES). */
  relayTunnelMaxBytes?: number;
}

/** A timestamped progress line in a host's output ('' is the Ferry server), so the job log reads as a story. */
function note(emit: EventSink, host: string, text: string): void {
  void emit({ type: 'output', host, text: `[${new Date().toISOString().slice(11, 19)}] ${text}\n` });
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** Thrown for job-level failures (nothing was sent to any host). */
/** The job stopped before touching any host (a refused release, a failed before-publish hook); the message says why. */
export class JobAbortedError extends FerryError {
  constructor(message: string) {
    super('failed', message);
    this.name = 'JobAbortedError';
  }
}


/** A release the packer refuses (a link out of the export, an unpackable file) fails the job before any host is touched. */
async function refusingUnsafeTree<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof PackError) throw new JobAbortedError(`${err.message}. No host was touched.`);
    throw err;
  }
}

/**
 * Connections opened before a host's turn: a handshake and login take several round trips (~60 ms on loopback, far
 * more over a WAN), SVN's answer and finding or packing the package 0.1 s or more, so the two overlap. Only for hosts Ferry reaches by itself (a relayed
 * host's route depends on the package's size), and only as many as publish at once. A host that was given none
 * connects when its turn comes, as before; one not taken (the job failed before hosts were reached) is closed.
 */
class EarlyConnections {
  private readonly opened = new Map<string, Promise<RemoteSession>>();

  constructor(plans: readonly HostPlan[], connect: (plan: HostPlan) => Promise<RemoteSession>) {
    for (const plan of plans) {
      const session = connect(plan);
      // A failure is reported by the host's own work when it takes the connection.
      session.catch(() => undefined);
      this.opened.set(plan.name, session);
    }
  }

  /** The host's early connection, at most once. */
  take(plan: HostPlan): Promise<RemoteSession> | undefined {
    const session = this.opened.get(plan.name);
    this.opened.delete(plan.name);
    return session;
  }

  closeUnused(): void {
    for (const session of this.opened.values()) void session.then((s) => s.close(), () => undefined).catch(() => undefined);
    this.opened.clear();
  }
}

let engines = 0;

export function createEngine(deps: EngineDeps): Engine {
  const source = new ReleaseSource({
    runFile: deps.runFile, logger: deps.logger,
    cacheDir: deps.cacheDir ?? path.join(os.tmpdir(), `ferry-cache-${process.pid}-${++engines}`),
  });
  const connectTo = (target: HostTarget, extra: ConnectOptions = {}): Promise<RemoteSession> =>
    deps.transport.connect(target, { onNewHostKey: deps.onNewHostKey, connectTimeoutMs: deps.connectTimeoutMs ?? DEFAULTS.sshConnectTimeoutMs, keepaliveIntervalMs: DEFAULTS.sshKeepaliveIntervalMs, ...extra });
  const connect = (plan: HostPlan): Promise<RemoteSession> => connectTo(plan.target);

  /** Connects, runs `work`, always closes, and turns any thrown error into a failed host event. */
  const onHost = (plan: HostPlan, emit: EventSink, firstPhase: string, work: (session: RemoteSession) => Promise<void>) =>
    onHostMaybeConnected(plan, emit, firstPhase, (session) => work(session!), true);

  /**
   * onHost for work that may not need Ferry's own session (a relay runs it): `connectFirst` false passes null.
   * `opened`: a connection started earlier for this host (EarlyConnections), used instead of a new one.
   */
  async function onHostMaybeConnected(plan: HostPlan, emit: EventSink, firstPhase: string, work: (session: RemoteSession | null) => Promise<void>, connectFirst: boolean, opened?: Promise<RemoteSession>) {
    emit({ type: 'host', host: plan.name, status: 'running', phase: connectFirst ? 'connecting' : firstPhase });
    let session: RemoteSession | null = null;
    try {
      if (connectFirst) {
        session = await (opened ?? connect(plan));
        emit({ type: 'host', host: plan.name, status: 'running', phase: firstPhase });
      }
      await work(session);
    } catch (err) {
      const error = operatorMessage(err, deps.logger, { host: plan.name });
      emit({ type: 'output', host: plan.name, text: `error: ${error}\n` });
      emit({ type: 'host', host: plan.name, status: 'failed', phase: 'failed', error });
    } finally {
      await session?.close().catch(() => undefined);
    }
  }

  const output = (emit: EventSink, host: string) => (chunk: string) => emit({ type: 'output', host, text: chunk });
  const reporter = (emit: EventSink, host: string): HostReporter => ({
    phase: (phase) => emit({ type: 'host', host, status: 'running', phase }),
    output: output(emit, host),
  });

  async function publish(req: PublishRequest, emit: EventSink): Promise<PublishOutcome> {
    const work = await mkdtemp(path.join(deps.workDir ?? os.tmpdir(), `ferry-job-${req.jobId}-`));
    let preparing: Promise<PreparedPackage> | null = null;
    const atOnce = Math.max(1, Math.floor(req.concurrency) || 1);
    // The first hosts Ferry reaches by itself log in while SVN answers and the package is found or packed.
    const early = new EarlyConnections(req.hosts.filter((plan) => !plan.target.jump || plan.relayMode === 'tunnel').slice(0, atOnce), connect);
    try {
      emit({ type: 'job', status: 'running', message: 'getting the files from SVN' });
      const envFor = (revision: number) => ({ FERRY_PROJECT: req.project, FERRY_JOB_ID: String(req.jobId), FERRY_REVISION: String(revision), FERRY_USER: req.user });
      const beforePublish = async (exportDir: string, revision: number) => {
        emit({ type: 'job', status: 'running', message: 'running before-publish hooks' });
        const filesList = path.join(work, 'files.txt');
        await writeFile(filesList, req.files.join('\n') + '\n');
        // The hooks run in the release as it will be sent, exclusions already left out; FERRY_EXCLUDE says which they were.
        const excludeList = path.join(work, 'exclude.txt');
        await writeFile(excludeList, (req.exclude ?? []).map((p) => p + '\n').join(''));
        const result = await runHookChain(req.hooks.beforePublish, (hook) => runLocalHook({
          script: hook.script, cwd: exportDir, timeoutMs: hook.timeoutMs,
          env: { ...envFor(revision), FERRY_HOST: '', FERRY_FILES: filesList, FERRY_EXCLUDE: excludeList, FERRY_STAGE: 'before-publish' },
          onOutput: (chunk) => emit({ type: 'output', host: '', text: chunk }),
        }));
        if (!result.ok) {
          const failed = result.failedHook ? hookLabel(result.failedHook) : 'a hook';
          throw new JobAbortedError(`before-publish hook ${failed} failed (exit ${result.exitCode}); no host was touched.${result.output ? ` Output: ${result.output.trim().slice(-500)}` : ''}`);
        }
        emit({ type: 'job', status: 'running', message: 'packing and sending' });
      };
      // The package comes from the cache, or is packed from the project's working copy; in that case hosts start
      // receiving while it is still being written (release/feed.ts), so packing and the uploads overlap.
      let started: (start: { feed: PackageFeed; revision: number }) => void = () => undefined;
      const packingStarted = new Promise<{ feed: PackageFeed; revision: number }>((resolve) => (started = resolve));
      preparing = refusingUnsafeTree(() => source.prepare({
        projectKey: req.project, svn: req.svn, revision: req.revision, files: req.files, exclude: req.exclude, workDir: work,
        beforePublish: req.hooks.beforePublish.length > 0 ? beforePublish : undefined,
        onStep: (text) => note(emit, '', text),
        onPacking: ({ revision, packagePath, sizeHint, files, done }) => {
          if (req.hooks.beforePublish.length === 0) emit({ type: 'job', status: 'running', message: 'packing and sending' });
          started({ revision, feed: PackageFeed.growing(packagePath, sizeHint, done.then(
            (pack) => ({ size: pack.bytes, sha256: pack.sha256, manifestPaths: pack.manifest.map((m) => m.path), files: regularFiles(pack.manifest) }),
            (err: unknown) => {
              throw err instanceof PackError ? new JobAbortedError(`${err.message}. No host was touched.`) : err;
            },
          ), files) });
        },
      }));
      preparing.catch(() => undefined);
      const packed = preparing.then((prepared) => {
        note(emit, '', `${prepared.reused ? 'reused' : 'packed'} ${prepared.fileCount} file(s) of r${prepared.revision}, ${formatBytes(prepared.bytes)} (sha256 ${prepared.sha256.slice(0, 12)}…)`);
        return prepared;
      });
      packed.catch(() => undefined);
      const { feed, revision } = await Promise.race([
        packingStarted,
        preparing.then((prepared) => ({
          revision: prepared.revision,
          feed: PackageFeed.finished(prepared.packagePath, { size: prepared.bytes, sha256: prepared.sha256, manifestPaths: prepared.manifest.map((m) => m.path), files: regularFiles(prepared.manifest) }),
        })),
      ]);
      const hookEnv = envFor(revision);

      // Hosts behind a relay wait for its one upload outside the bound ('staging'), so they hold no slot meanwhile;
      // the relay's run of their program then happens inside it.
      const relays = startRelayStaging(req.hosts, {
        jobId: req.jobId, logger: deps.logger, tunnelMaxBytes: deps.relayTunnelMaxBytes,
        wire: { feed, lists: releaseLists },
        connect: (target, forwardAgentKeys) => connectTo(target, { forwardAgentKeys }),
        onUpload: (relay, hosts, progress) => {
          for (const host of hosts) void emit({ type: 'progress', host, ...progress, relay });
        },
        pinHostKey: async (plan) => {
          let pinned: string | null = null;
          const session = await connectTo(plan.target, {
            onNewHostKey: async (hostName, hostKey, fingerprint) => {
              pinned = hostKey;
              await deps.onNewHostKey?.(hostName, hostKey, fingerprint);
            },
          });
          await session.close().catch(() => undefined);
          if (pinned === null) throw new FerryError('unreachable', `${plan.name} presented no host key to pin`);
          note(emit, plan.name, 'pinned the host key through the tunnel, for the relay to check');
          return pinned;
        },
      });
      const limit = pLimit(atOnce);
      const chunkBytes = readChunkBytes(Math.min(atOnce, req.hosts.length));
      const drift: NonNullable<PublishOutcome['drift']> = [];
      const publishOnHost = async (plan: PublishRequest['hosts'][number]) => {
        const report = reporter(emit, plan.name);
        await relays.whenReady(plan, report);
        await limit(async () => {
          const routing = await relays.route(plan, report);
          const upload = new UploadThrottle((progress) => void emit({ type: 'progress', host: plan.name, ...progress }));
          try {
            if (routing.kind === 'failed') {
              emit({ type: 'output', host: plan.name, text: `error: ${routing.error}\n` });
              emit({ type: 'host', host: plan.name, status: 'failed', phase: routing.phase, error: routing.error });
              return;
            }
            const relay = routing.kind === 'relay' ? routing.leg : undefined;
            // Through a relay Ferry needs no session of its own to the host, unless after-publish hooks run there.
            const needsSession = !relay || req.hooks.afterPublish.length > 0;
            await onHostMaybeConnected(plan, emit, relay ? 'relay-copy' : 'uploading', async (session) => {
              const result = await publishToHost({
                session: session ?? undefined, relay, hostName: plan.name,
                deployDir: plan.deployDir, jobId: req.jobId, feed, readChunkBytes: chunkBytes,
                keepSnapshots: req.keepSnapshots, protectJobId: plan.protectJobId ?? null, foreignJobIds: plan.foreignJobIds ?? [],
                hooks: { afterPublish: req.hooks.afterPublish },
                hookEnv: { ...hookEnv, FERRY_HOST: plan.name },
                onPhase: (phase) => {
                  note(emit, plan.name, phase);
                  return emit({ type: 'host', host: plan.name, status: 'running', phase });
                },
                onSnapshotTaken: () => emit({ type: 'host', host: plan.name, status: 'running', phase: 'snapshot', snapshotTaken: true }) ?? undefined,
                onOutput: output(emit, plan.name),
                onUploadProgress: (sent, total) => upload.update(sent, total),
                drift: plan.recorded?.length ? { recorded: plan.recorded, overwrite: req.drift?.overwrite ?? false, skipUnchanged: req.drift?.skipUnchanged ?? false } : undefined,
              });
              // No count may follow the host's final state.
              upload.close();
              const found = reportPublishResult(emit, plan.name, req.jobId, revision, result);
              if (found) drift.push(found);
            }, needsSession, relay ? undefined : early.take(plan));
          } finally {
            upload.close();
            relays.done(plan);
          }
        });
      };
      try {
        await Promise.allSettled(req.hosts.map(publishOnHost));
      } finally {
        await relays.close();
      }
      // A packing failure failed every host while it was still receiving (nothing was changed on any): the job says why.
      const pack = await packed;
      return { revision, fileCount: pack.fileCount, bytes: pack.bytes, files: regularFiles(pack.manifest), ...(drift.length ? { drift } : {}) };
    } finally {
      early.closeUnused();
      // The package may now be evicted from the cache (or, made for hooks, goes with the job's directory).
      await preparing?.then((prepared) => prepared.release()).catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    }
  }

  async function rollback(req: RollbackRequest, emit: EventSink): Promise<void> {
    await forEachHostLimited(req.hosts, req.concurrency, (plan) => onHost(plan, emit, 'checking', async (session) => {
      const result = await rollbackHost({
        session, deployDir: plan.deployDir, jobIds: plan.jobIds,
        onPhase: (phase) => emit({ type: 'host', host: plan.name, status: 'running', phase }),
        onOutput: output(emit, plan.name),
      });
      if (result.ok) {
        emit({ type: 'output', host: plan.name, text: `restored the files of job(s) ${result.restoredJobIds.map((id) => `#${id}`).join(', ')}\n` });
        emit({ type: 'host', host: plan.name, status: 'succeeded', phase: 'done' });
      } else {
        const partly = result.restoredJobIds.length ? ` (already undone here before that: ${result.restoredJobIds.map((id) => `#${id}`).join(', ')})` : '';
        emit({ type: 'host', host: plan.name, status: 'failed', phase: 'failed', error: `${result.error}${partly}`, restoredJobIds: result.restoredJobIds });
      }
    }));
  }

  async function processAction(req: ProcessRequest, emit: EventSink): Promise<void> {
    await forEachHostLimited(req.hosts, req.concurrency, (plan) => onHost(plan, emit, req.action, async (session) => {
      const problems: string[] = [];
      let lastExit = 0;
      for (const proc of plan.processes) {
        emit({ type: 'output', host: plan.name, text: `$ ${req.action} ${proc.name}\n` });
        const result = await runProcessAction({
          session, deployDir: plan.deployDir, action: req.action, process: proc,
          hooks: req.hooks, timeoutMs: req.commandTimeoutMs,
          env: { FERRY_PROJECT: req.project, FERRY_JOB_ID: String(req.jobId), FERRY_HOST: plan.name, FERRY_USER: req.user },
          onOutput: output(emit, plan.name),
        });
        lastExit = result.exitCode;
        if (req.action === 'status') {
          emit({ type: 'output', host: plan.name, text: `${proc.name}: ${result.running ? 'running' : `not running (exit ${result.exitCode})`}\n` });
          if (!result.running) problems.push(`${proc.name} is not running (exit ${result.exitCode})`);
        } else if (!result.ok) {
          problems.push(`${proc.name}: ${result.error ?? `${req.action} failed with exit code ${result.exitCode}`}`);
        }
      }
      if (problems.length) emit({ type: 'host', host: plan.name, status: 'failed', phase: 'failed', error: problems.join('; '), exitCode: lastExit });
      else emit({ type: 'host', host: plan.name, status: 'succeeded', phase: 'done', exitCode: lastExit });
    }));
  }

  return { publish, rollback, processAction, ...inspection({ source, connectTo, workDir: deps.workDir, logger: deps.logger }) };
}
