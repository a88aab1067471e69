// Store-and-forward through a relay (a target's last jump host): the package crosses Ferry's link to the relay once,
// is checked there, and the relay's own `ssh` copies it to every target behind it over the relay's network. Ferry
// keeps every key: the relay's ssh signs through Ferry's in-memory agent (agent forwarding) and trusts only the
// targets' pinned host keys, written to a temporary known_hosts. Nothing secret is ever written on the relay.
import pLimit from 'p-limit';
import { normalizeHostKey } from './hostkey.ts';
import { ferryDirGuardCommand, ferryLayout, jobFiles, reasonFrom, runChecked, shq } from './remote.ts';
import type { HostPlan } from './runner-types.ts';
import { publicKeyOf } from './transport.ts';
import type { AgentKey, EngineLogger, HostTarget, RemoteSession } from './types.ts';

/** sshd allows 10 sessions per connection by default (MaxSessions): stay below it on one relay connection. */
const MAX_COPIES_PER_RELAY = 8;
const DEFAULT_STEP_TIMEOUT_MS = 30 * 60_000;
/** What the relay runs: `ssh` for the copies, the others to stage and check the package. */
const RELAY_TOOLS = ['ssh', 'sha256sum', 'mktemp'] as const;
const FALLBACK = 'streaming through the tunnel instead';

export type RelayPhase = 'staging' | 'relay-copy';

/** Where a host's progress goes. */
export interface HostReporter {
  phase(phase: RelayPhase): void;
  output(text: string): void;
}

/** How the package gets into a host's `incoming/<job>.tar.gz.part`. */
export type StagingResult =
  /** A relay copied it there: verify it and go on. */
  | { kind: 'staged' }
  /** Ferry uploads it itself (directly, or streamed through the jump hosts' tunnel). */
  | { kind: 'upload' }
  /** `phase` says where: the relay's own staging, or the copy from it. */
  | { kind: 'failed'; phase: RelayPhase; error: string };

export interface RelayStagingOptions {
  jobId: number;
  packagePath: string;
  packageSha256: string;
  /** Opens a session on a host (through its own jump hosts) whose commands get these keys by agent forwarding. */
  connect: (target: HostTarget, forwardAgentKeys: readonly AgentKey[]) => Promise<RemoteSession>;
  logger: EngineLogger;
  /** Limit for one relay-side step (upload check, one copy). */
  stepTimeoutMs?: number;
}

type Route =
  /** No relay in the way, or the tunnel was chosen: nothing to say. */
  | { via: 'self' }
  /** 'auto' found store-and-forward impossible before starting; the host is told why. */
  | { via: 'tunnel'; notice: string }
  /** 'store-forward' was asked for but cannot work for this host. */
  | { via: 'refused'; error: string }
  | { via: 'relay'; relay: Relay; strict: boolean };

/**
 * Groups a job's hosts by relay and starts, at once and concurrently, one package upload per relay. Use per host:
 * `whenReady` outside the job's concurrency bound, then `stage` inside it, then `close` once the job is over.
 */
export function startRelayStaging(hosts: readonly HostPlan[], opts: RelayStagingOptions): RelayStaging {
  return new RelayStaging(hosts, opts);
}

export class RelayStaging {
  private readonly routes = new Map<HostPlan, Route>();
  private readonly relays: Relay[] = [];

  constructor(hosts: readonly HostPlan[], opts: RelayStagingOptions) {
    const byKey = new Map<string, Relay>();
    for (const plan of hosts) {
      const jump = plan.target.jump;
      // A relay's own relay (multi-level jumps) is just the way to it: the last jump host is the one that copies.
      if (!jump || plan.relayMode === 'tunnel') {
        this.routes.set(plan, { via: 'self' });
        continue;
      }
      const obstacle = storeForwardObstacle(plan, jump);
      if (obstacle) {
        this.routes.set(plan, plan.relayMode === 'auto' ? { via: 'tunnel', notice: obstacle } : { via: 'refused', error: `store-and-forward is not possible: ${obstacle}` });
        continue;
      }
      const key = relayKeyOf(jump);
      let relay = byKey.get(key);
      if (!relay) {
        relay = new Relay(jump, opts);
        byKey.set(key, relay);
        this.relays.push(relay);
      }
      relay.add(plan);
      this.routes.set(plan, { via: 'relay', relay, strict: plan.relayMode === 'store-forward' });
    }
    for (const relay of this.relays) relay.start();
  }

  /** Resolves once the host's relay holds the package (or failed to); at once for hosts that use no relay. Never rejects. */
  async whenReady(plan: HostPlan, report: HostReporter): Promise<void> {
    const route = this.routes.get(plan);
    if (route?.via !== 'relay') return;
    report.phase('staging');
    await route.relay.ready;
  }

  /**
   * Gets the package into the host's incoming directory through its relay, or says that Ferry must upload it.
   * 'auto' hosts fall back to the tunnel when the relay cannot help (saying why in their output); 'store-forward'
   * hosts fail instead, since the operator asked not to send the package once per host over the relay link.
   * Never rejects.
   */
  async stage(plan: HostPlan, report: HostReporter): Promise<StagingResult> {
    const route = this.routes.get(plan) ?? { via: 'self' };
    switch (route.via) {
      case 'self':
        return { kind: 'upload' };
      case 'tunnel':
        report.output(`${route.notice}: ${FALLBACK}\n`);
        return { kind: 'upload' };
      case 'refused':
        return { kind: 'failed', phase: 'staging', error: route.error };
      case 'relay': {
        const { relay, strict } = route;
        try {
          // A failed relay upload fails or reroutes every host behind it with the same reason.
          let phase: RelayPhase = 'staging';
          let problem = await relay.ready;
          if (problem === null) {
            phase = 'relay-copy';
            report.phase(phase);
            problem = await relay.copyTo(plan);
          }
          if (problem === null) return { kind: 'staged' };
          if (strict) return { kind: 'failed', phase, error: problem };
          report.output(`${problem}: ${FALLBACK}\n`);
          return { kind: 'upload' };
        } finally {
          relay.release(plan);
        }
      }
    }
  }

  /** Removes what is left on the relays and closes their sessions; safe to call more than once. */
  async close(): Promise<void> {
    await Promise.all(this.relays.map((relay) => relay.close()));
  }
}

/** Why a host behind a relay cannot be served by store-and-forward, or null when it can. */
function storeForwardObstacle(plan: HostPlan, jump: HostTarget): string | null {
  const target = plan.target;
  if (!target.hostKey) return `${plan.name} has no pinned host key for relay ${jump.name} to check`;
  try {
    normalizeHostKey(target.hostKey);
  } catch {
    return `the pinned host key of ${plan.name} is unreadable`;
  }
  if (!target.privateKey) return `${plan.name} logs in with a password, which relay ${jump.name} cannot be given`;
  try {
    publicKeyOf(agentKeyOf(target), plan.name);
  } catch (err) {
    return messageOf(err);
  }
  return null;
}

/** The same relay reached the same way: hosts with equal keys share one upload. */
function relayKeyOf(jump: HostTarget): string {
  const hops: string[] = [];
  for (let hop: HostTarget | null | undefined = jump; hop; hop = hop.jump) hops.push(JSON.stringify([hop.name, hop.username, hop.address, hop.port]));
  return hops.join(' via ');
}

function agentKeyOf(target: HostTarget): AgentKey {
  return { privateKey: target.privateKey ?? '', passphrase: target.passphrase };
}

/** One relay of one job: its session, its staging directory and the hosts still to be served from it. */
class Relay {
  readonly name: string;
  /** null once the package is staged and checked on the relay, else why it is not. */
  ready: Promise<string | null> = Promise.resolve('the relay was not started');
  private readonly hosts = new Map<HostPlan, number>();
  private readonly unreleased = new Set<HostPlan>();
  private readonly copies = pLimit(MAX_COPIES_PER_RELAY);
  private session: RemoteSession | null = null;
  private dir: string | null = null;
  private preparing: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly target: HostTarget,
    private readonly opts: RelayStagingOptions,
  ) {
    this.name = target.name;
  }

  add(plan: HostPlan): void {
    this.hosts.set(plan, this.hosts.size);
    this.unreleased.add(plan);
  }

  start(): void {
    this.preparing = this.prepare();
    this.ready = this.preparing.then(
      () => null,
      async (err: unknown) => {
        await this.close();
        return messageOf(err);
      },
    );
  }

  /** Connect (forwarding the targets' keys), check the tools, stage the package and the trust files, check the package. */
  private async prepare(): Promise<void> {
    const plans = [...this.hosts.keys()];
    const keys = uniqueKeys(plans.map((plan) => agentKeyOf(plan.target)));
    try {
      this.session = await this.opts.connect(this.target, keys);
    } catch (err) {
      throw new Error(`cannot reach relay ${this.name}: ${messageOf(err)}`, { cause: err });
    }
    const session = this.session;
    const missing = await this.missingTools(session);
    if (missing.length > 0) throw new Error(`relay ${this.name} has no ${missing.join(', ')} command${missing.length > 1 ? 's' : ''}`);

    const timeoutMs = this.opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
    try {
      const made = await runChecked(session, `mktemp -d "\${TMPDIR:-/tmp}/ferry-relay-${this.opts.jobId}-XXXXXX"`, 'creating a staging directory');
      const dir = made.stdout.trim().split('\n').pop() ?? '';
      if (!dir.startsWith('/')) throw new Error(`mktemp printed ${JSON.stringify(dir)} instead of a directory`);
      this.dir = dir;
      await runChecked(session, 'sh -s', 'writing the targets\' host keys', { stdin: this.trustScript(dir, plans) });
      await session.upload(this.opts.packagePath, packageOn(dir), { mode: 0o600 });
      const sum = await runChecked(session, `sha256sum < ${shq(packageOn(dir))}`, 'checking the package', { timeoutMs });
      const actual = sum.stdout.trim().split(/\s+/)[0] ?? '';
      if (actual.toLowerCase() !== this.opts.packageSha256.toLowerCase()) {
        throw new Error(`the package arrived damaged (sha256 ${actual.slice(0, 12)}…, expected ${this.opts.packageSha256.slice(0, 12)}…)`);
      }
    } catch (err) {
      throw new Error(`staging the package on relay ${this.name} failed: ${messageOf(err)}`, { cause: err });
    }
    this.opts.logger.info({ jobId: this.opts.jobId, relay: this.name, hosts: plans.map((p) => p.name) }, 'package staged on relay');
  }

  /** The first command on the session: it is also where sshd accepts or refuses the agent forwarding. */
  private async missingTools(session: RemoteSession): Promise<string[]> {
    const script = `for tool in ${RELAY_TOOLS.join(' ')}; do command -v "$tool" >/dev/null 2>&1 || echo "missing:$tool"; done; :`;
    let result;
    try {
      result = await runChecked(session, script, 'looking for ssh on the relay');
    } catch (err) {
      if (/agent forwarding/i.test(messageOf(err))) throw new Error(`relay ${this.name} does not allow agent forwarding (sshd AllowAgentForwarding)`, { cause: err });
      throw err;
    }
    return RELAY_TOOLS.filter((tool) => result.stdout.split('\n').includes(`missing:${tool}`));
  }

  /**
   * known_hosts with each target's pinned key under an alias of its own (HostKeyAlias), and each target's PUBLIC key,
   * which makes the relay's ssh offer exactly that key from the forwarded agent (IdentitiesOnly + IdentityFile).
   */
  private trustScript(dir: string, plans: HostPlan[]): string {
    const lines = ['umask 077', `cd -- ${shq(dir)} || exit 1`, ': > known_hosts || exit 1'];
    for (const plan of plans) {
      const index = this.hosts.get(plan)!;
      lines.push(`printf '%s\\n' ${shq(`${aliasOf(index)} ${normalizeHostKey(plan.target.hostKey!)}`)} >> known_hosts || exit 1`);
      lines.push(`printf '%s\\n' ${shq(publicKeyOf(agentKeyOf(plan.target), plan.name))} > ${shq(`id-${index}.pub`)} || exit 1`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** Runs `ssh` on the relay to write the package into the target's incoming directory. Null on success, else why not. */
  async copyTo(plan: HostPlan): Promise<string | null> {
    const session = this.session;
    const dir = this.dir;
    if (!session || !dir) return `relay ${this.name} has no staged package`;
    const failed = (reason: string) => `copying the package from relay ${this.name} to ${plan.name} failed: ${reason}`;
    try {
      const command = copyCommand(plan, dir, this.hosts.get(plan)!, this.opts.jobId);
      const result = await this.copies(() => session.exec(command, { timeoutMs: this.opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS }));
      if (result.code === 0) return null;
      return failed(copyFailureReason(result.stderr, plan.name) || reasonFrom(result.stdout) || `exit code ${result.code}`);
    } catch (err) {
      return failed(messageOf(err));
    }
  }

  /** The host is done with the relay; after the last one, the staged package and trust files go at once. */
  release(plan: HostPlan): void {
    this.unreleased.delete(plan);
    if (this.unreleased.size === 0) void this.close();
  }

  /** Removes the staging directory (package, known_hosts, public keys) and closes the session. Never rejects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.preparing?.catch(() => undefined);
      const { session, dir } = this;
      if (session && dir) {
        await runChecked(session, `rm -rf -- ${shq(dir)}`, 'removing the staging directory').catch((err: unknown) =>
          this.opts.logger.warn({ jobId: this.opts.jobId, relay: this.name, dir, err: messageOf(err) }, 'could not clean up on the relay'),
        );
      }
      await session?.close().catch(() => undefined);
    })();
    return this.closing;
  }
}

/** ssh's complaint in one line: its banners dropped, a host key mismatch said plainly. */
function copyFailureReason(stderr: string, host: string): string {
  if (/Host key verification failed/.test(stderr)) {
    return `the host key ${host} presented does not match the key pinned in Ferry (ssh on the relay: Host key verification failed)`;
  }
  const lines = stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('@'));
  return reasonFrom(lines.join('\n'), 300);
}

function packageOn(dir: string): string {
  return `${dir}/package.tar.gz`;
}

function aliasOf(index: number): string {
  return `ferry-target-${index}`;
}

/**
 * The relay-side command for one target. Host-key checking stays strict against the pinned key only, no password or
 * keyboard prompt can hang it, and the agent goes no further than the target. The remote part runs in the target's
 * shell (ssh joins its arguments), so it is quoted once for that shell and once more for the relay's.
 */
function copyCommand(plan: HostPlan, dir: string, index: number, jobId: number): string {
  const target = plan.target;
  const layout = ferryLayout(plan.deployDir);
  const part = jobFiles(plan.deployDir, jobId).packagePart;
  const remote =
    `${ferryDirGuardCommand(plan.deployDir)}; ` +
    `mkdir -p -- ${shq(layout.incoming)} ${shq(layout.snapshots)} ${shq(layout.journal)}` +
    ` && rm -f -- ${shq(part)} && (umask 077 && cat > ${shq(part)})`;
  const options = [
    'BatchMode=yes',
    'StrictHostKeyChecking=yes',
    `UserKnownHostsFile=${sshConfigPath(`${dir}/known_hosts`)}`,
    'GlobalKnownHostsFile=/dev/null',
    `HostKeyAlias=${aliasOf(index)}`,
    'CheckHostIP=no',
    'UpdateHostKeys=no',
    'IdentitiesOnly=yes',
    `IdentityFile=${sshConfigPath(`${dir}/id-${index}`)}`,
    'PasswordAuthentication=no',
    'KbdInteractiveAuthentication=no',
    'ForwardAgent=no',
    'ClearAllForwardings=yes',
    'ConnectTimeout=20',
    'ServerAliveInterval=15',
    'ServerAliveCountMax=4',
    'LogLevel=ERROR',
  ];
  const argv = ['ssh', '-F', '/dev/null', '-T', '-p', String(target.port), '-l', target.username, ...options.flatMap((o) => ['-o', o]), '--', target.address, remote];
  return `${argv.map(shq).join(' ')} < ${shq(packageOn(dir))}`;
}

/** A path as an ssh option value: double-quoted for ssh's own word splitting, `%` escaped from token expansion. */
function sshConfigPath(path: string): string {
  if (/["\\\n]/.test(path)) throw new Error(`the relay's temporary directory has an unusable name: ${JSON.stringify(path)}`);
  return `"${path.replace(/%/g, '%%')}"`;
}

function uniqueKeys(keys: AgentKey[]): AgentKey[] {
  const seen = new Set<string>();
  return keys.filter((key) => !seen.has(key.privateKey) && seen.add(key.privateKey));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
