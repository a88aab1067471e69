// One relay of one job: the package staged once in a temporary directory on the relay, and for each target behind it
// one `ssh` run by the relay (through Ferry's in-memory agent, against the targets' pinned keys) that feeds the
// target's release program from that copy. Nothing secret is ever written on the relay.
import { FerryError } from '../../lib/errors.ts';
import pLimit from 'p-limit';
import { normalizeHostKey } from '../hostkey.ts';
import { reasonFrom, runChecked, shq } from '../remote.ts';
import { programCommand } from '../release/program.ts';
import { MARK, wireBody, type WireOptions } from '../release/protocol.ts';
import { packageChunks } from '../release/chunk-pool.ts';
import type { RelayLeg } from '../release/publish.ts';
import type { HostPlan } from '../runner-types.ts';
import { publicKeyOf } from '../transport/keys.ts';
import type { AgentKey, EngineLogger, HostTarget, RemoteSession } from '../types.ts';
import { Readable } from 'node:stream';
import { UploadThrottle, type UploadSample } from '../upload-progress.ts';

/** sshd allows 10 sessions per connection by default (MaxSessions): stay below it on one relay connection. */
const MAX_COPIES_PER_RELAY = 8;
const STAGING_TIMEOUT_MS = 60 * 60_000;
/** What the relay runs. */
const RELAY_TOOLS = ['ssh', 'mktemp'] as const;
export const FALLBACK = 'streaming through the tunnel instead';
const EXIT_MISSING_TOOLS = 50;


export type RelayPhase = 'staging' | 'relay-copy';

export interface RelayStagingOptions {
  jobId: number;
  /** What every target's program reads on stdin before the go-ahead (package, trailer, lists). */
  wire: Omit<WireOptions, 'onProgress'>;
  /** Opens a session on a host (through its own jump hosts) whose commands get these keys by agent forwarding. */
  connect: (target: HostTarget, forwardAgentKeys: readonly AgentKey[]) => Promise<RemoteSession>;
  /** Logs into a host through the tunnel to learn (and pin) its key; resolves to the key ("type base64"). */
  pinHostKey: (plan: HostPlan) => Promise<string>;
  logger: EngineLogger;
  /** auto tunnels when package bytes × hosts behind the relay stay below this. */
  tunnelMaxBytes?: number;
  /** Progress of the package's upload to a relay, for the hosts waiting for it (throttled). */
  onUpload?: (relay: string, hosts: readonly string[], progress: UploadSample) => void;
}


/** Why a host behind a relay cannot be served by store-and-forward, or null when it can. */
export function storeForwardObstacle(plan: HostPlan, jump: HostTarget): string | null {
  const target = plan.target;
  if (target.hostKey) {
    try {
      normalizeHostKey(target.hostKey);
    } catch {
      return `the pinned host key of ${plan.name} is unreadable`;
    }
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
export function relayKeyOf(jump: HostTarget): string {
  const hops: string[] = [];
  for (let hop: HostTarget | null | undefined = jump; hop; hop = hop.jump) hops.push(JSON.stringify([hop.name, hop.username, hop.address, hop.port]));
  return hops.join(' via ');
}

function agentKeyOf(target: HostTarget): AgentKey {
  return { privateKey: target.privateKey ?? '', passphrase: target.passphrase };
}

/** One relay of one job: its session, its staging directory and the hosts still to be served from it. */
export class Relay {
  readonly name: string;
  /** null once the package is staged on the relay, else why it is not. */
  ready: Promise<string | null> = Promise.resolve('the relay was not started');
  private readonly hosts = new Map<HostPlan, { index: number; hostKey: string | null }>();
  private readonly unfinished = new Set<HostPlan>();
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
    this.hosts.set(plan, { index: this.hosts.size, hostKey: plan.target.hostKey ?? null });
    this.unfinished.add(plan);
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

  /** Pin unknown target keys through the tunnel, connect (forwarding the targets' keys), stage the package and the trust files. */
  private async prepare(): Promise<void> {
    const plans = [...this.hosts.keys()];
    await Promise.all(plans.map(async (plan) => {
      const entry = this.hosts.get(plan)!;
      if (entry.hostKey) return;
      try {
        entry.hostKey = await this.opts.pinHostKey(plan);
      } catch (err) {
        throw new FerryError('unreachable', `pinning the host key of ${plan.name} through relay ${this.name} failed: ${messageOf(err)}`, { cause: err });
      }
    }));
    const keys = uniqueKeys(plans.map((plan) => agentKeyOf(plan.target)));
    try {
      this.session = await this.opts.connect(this.target, keys);
    } catch (err) {
      throw new FerryError('unreachable', `cannot reach relay ${this.name}: ${messageOf(err)}`, { cause: err });
    }
    let result;
    const onUpload = this.opts.onUpload;
    const names = plans.map((plan) => plan.name);
    const upload = new UploadThrottle((progress) => onUpload?.(this.name, names, progress));
    try {
      result = await this.session.exec(programCommand(this.stagingProgram(plans)), {
        stdin: Readable.from(wireBody({ ...this.opts.wire, onProgress: onUpload ? (sent, total) => upload.update(sent, total) : undefined })),
        onStdinSent: (chunk) => packageChunks.giveBack(chunk),
        timeoutMs: STAGING_TIMEOUT_MS,
      });
    } catch (err) {
      if (/agent forwarding/i.test(messageOf(err))) throw new FerryError('refused', `relay ${this.name} does not allow agent forwarding (sshd AllowAgentForwarding)`, { cause: err });
      throw new FerryError('failed', `staging the package on relay ${this.name} failed: ${messageOf(err)}`, { cause: err });
    } finally {
      upload.close();
    }
    const lines = result.stdout.split('\n');
    const dir = lines.find((line) => line.startsWith(`${MARK}relay-dir `))?.slice(`${MARK}relay-dir `.length) ?? '';
    if (dir.startsWith('/')) this.dir = dir;
    if (result.code === EXIT_MISSING_TOOLS) {
      const missing = lines.filter((line) => line.startsWith(`${MARK}missing `)).map((line) => line.slice(`${MARK}missing `.length));
      throw new FerryError('unavailable', `relay ${this.name} has no ${missing.join(', ')} command${missing.length > 1 ? 's' : ''}`);
    }
    if (result.code !== 0 || !this.dir) {
      throw new FerryError('failed', `staging the package on relay ${this.name} failed: ${reasonFrom(result.stderr) || `exit code ${result.code}`}`);
    }
    this.opts.logger.info({ jobId: this.opts.jobId, relay: this.name, hosts: plans.map((p) => p.name) }, 'package staged on relay');
  }

  /**
   * One command on the relay: check its tools, make a private directory, write known_hosts with each target's pinned
   * key under an alias of its own (HostKeyAlias) and each target's PUBLIC key (which makes the relay's ssh offer
   * exactly that key from the forwarded agent), then store what comes on stdin (the wire body every target reads).
   */
  private stagingProgram(plans: HostPlan[]): string {
    const lines = [
      'miss=',
      `for tool in ${RELAY_TOOLS.join(' ')}; do command -v "$tool" >/dev/null 2>&1 || { printf '${MARK}missing %s\\n' "$tool"; miss=1; }; done`,
      `[ -z "$miss" ] || exit ${EXIT_MISSING_TOOLS}`,
      `dir=$(mktemp -d "\${TMPDIR:-/tmp}/ferry-relay-${this.opts.jobId}-XXXXXX") || exit 1`,
      `printf '${MARK}relay-dir %s\\n' "$dir"`,
      'umask 077',
      'cd -- "$dir" || exit 1',
      ': > known_hosts || exit 1',
    ];
    for (const plan of plans) {
      const { index, hostKey } = this.hosts.get(plan)!;
      lines.push(`printf '%s\\n' ${shq(`${aliasOf(index)} ${normalizeHostKey(hostKey!)}`)} >> known_hosts || exit 1`);
      lines.push(`printf '%s\\n' ${shq(publicKeyOf(agentKeyOf(plan.target), plan.name))} > ${shq(`id-${index}.pub`)} || exit 1`);
    }
    lines.push('cat > wire || exit 1', 'exit 0');
    return lines.join('\n');
  }

  /** Runs a host's release program through the relay's ssh, fed from the staged copy; Ferry adds only the go-ahead. */
  legFor(plan: HostPlan): RelayLeg {
    return {
      relay: this.name,
      run: (program, execOptions, preludeBytes) => {
        const { session, dir } = this;
        if (!session || !dir) return Promise.reject(new Error(`relay ${this.name} has no staged package`));
        return this.copies(() => session.exec(relayCommand(plan, dir, this.hosts.get(plan)!.index, program, preludeBytes), execOptions));
      },
    };
  }

  /** The host is done with the relay; after the last one, the staged package and trust files go at once. */
  done(plan: HostPlan): void {
    this.unfinished.delete(plan);
    if (this.unfinished.size === 0) void this.close();
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

function aliasOf(index: number): string {
  return `ferry-target-${index}`;
}

/**
 * The relay-side command for one target: the first `preludeBytes` Ferry sends (the header and this host's drift check,
 * read exactly by GNU head), the staged wire body, then whatever Ferry sends next (the go-ahead), into `ssh`
 * running the target's program. Host-key checking stays strict against the pinned key only, no password or keyboard
 * prompt can hang it, and the agent goes no further than the target. When ssh ends (for any reason) a `relay-exit`
 * line tells Ferry to close its side, which ends the feeding `cat`. The program is quoted once for the target's shell
 * (programCommand) and once more for the relay's.
 */
function relayCommand(plan: HostPlan, dir: string, index: number, program: string, preludeBytes: number): string {
  if (!Number.isSafeInteger(preludeBytes) || preludeBytes < 0) throw new TypeError(`invalid prelude size: ${preludeBytes}`);
  const target = plan.target;
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
  const argv = ['ssh', '-F', '/dev/null', '-T', '-p', String(target.port), '-l', target.username, ...options.flatMap((o) => ['-o', o]), '--', target.address, programCommand(program)];
  return `{ head -c ${preludeBytes} && cat ${shq(`${dir}/wire`)} && cat; } | { ${argv.map(shq).join(' ')}; st=$?; printf '\\n${MARK}relay-exit %s\\n' "$st"; exit "$st"; }`;
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

