// The hosts published to: N target sshd on 127.0.0.1 (every fourth one behind a relay sshd, reached through a TCP
// proxy that counts the bytes crossing "Ferry's link to the relay"), each with its own account HOME, plus the OpenSSH
// client configuration (keys, known_hosts, the relay as ProxyJump) that the baselines use.
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startSshd, startTcpProxy, type SshdHandle, type TcpProxy } from '../../../test/kit/sshd.ts';
import { isRelayed } from './scenarios.ts';
import { takeShellStarts, writeLoginFiles } from './login-shell.ts';
import { median, now, spawnTail } from '../common.ts';

/** Debian's stock sftp subsystem: a program sshd starts through the account's login shell, like a remote command. */
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

export interface Host {
  name: string;
  sshd: SshdHandle;
  /** Private key file for OpenSSH clients. */
  keyFile: string;
  /** The account's HOME (sshd SetEnv), where its login files and shell records live. */
  home: string;
}

export interface Target extends Host {
  relayed: boolean;
}

export interface Fleet {
  relay: Host;
  /** The relay, then the targets. */
  hosts: Host[];
  relayProxy: TcpProxy;
  targets: Target[];
  user: string;
  /** OpenSSH client config: `Host relay` (through the proxy), known_hosts, batch mode. */
  sshConfig: string;
  /** `ssh` arguments up to the destination (without the remote command), ProxyJump for relayed targets. */
  sshArgs(target: Target): string[];
  /** Every sshd, relay first. */
  sshds(): SshdHandle[];
  stop(): Promise<void>;
}

export const targetName = (index: number) => `t${String(index + 1).padStart(2, '0')}`;

export async function startFleet(work: string, count: number, loginLoops: number | null): Promise<Fleet> {
  const keysDir = path.join(work, 'keys');
  await mkdir(keysDir, { recursive: true });
  const started: SshdHandle[] = [];
  let relayProxy: TcpProxy | null = null;
  const stop = async () => {
    await relayProxy?.close();
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const startHost = async (name: string): Promise<Host> => {
      const home = path.join(work, 'homes', name);
      await mkdir(home, { recursive: true });
      if (loginLoops !== null) await writeLoginFiles(home, loginLoops);
      // VERBOSE logs each login and each session (command or subsystem): counted per method.
      const sshd = await startSshd({ logLevel: 'VERBOSE', extraConfig: [`SetEnv HOME=${home}`], sftpServer: SFTP_SERVER });
      started.push(sshd);
      const keyFile = path.join(keysDir, name);
      await writeFile(keyFile, sshd.clientKey, { mode: 0o600 });
      await chmod(keyFile, 0o600);
      return { name, sshd, keyFile, home };
    };
    const relay = await startHost('relay');
    const targets: Target[] = [];
    // In batches: 65 sshd with their ssh-keygen runs at once would only queue on two cores.
    for (let i = 0; i < count; i += 16) {
      const batch = Array.from({ length: Math.min(16, count - i) }, (_, k) => i + k);
      targets.push(...(await Promise.all(batch.map(async (index) => ({ ...(await startHost(targetName(index))), relayed: isRelayed(index) })))));
    }
    relayProxy = await startTcpProxy(relay.sshd.port);
    const user = relay.sshd.username;
    const knownHosts = path.join(work, 'known_hosts');
    await writeFile(knownHosts, [
      `[127.0.0.1]:${relayProxy.port} ${relay.sshd.hostKey}`,
      ...[relay, ...targets].map((h) => `[127.0.0.1]:${h.sshd.port} ${h.sshd.hostKey}`),
      '',
    ].join('\n'));
    const sshConfig = path.join(work, 'ssh_config');
    await writeFile(sshConfig, [
      // The relay hop goes through the counting proxy, for every method.
      'Host relay',
      '  HostName 127.0.0.1',
      `  Port ${relayProxy.port}`,
      `  User ${user}`,
      `  IdentityFile ${relay.keyFile}`,
      'Host *',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  IdentitiesOnly yes',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '',
    ].join('\n'));
    return {
      relay, hosts: [relay, ...targets], relayProxy, targets, user, sshConfig, stop,
      sshArgs: (t) => ['-F', sshConfig, '-i', t.keyFile, '-p', String(t.sshd.port), ...(t.relayed ? ['-J', 'relay'] : []), `${user}@127.0.0.1`],
      sshds: () => [relay.sshd, ...targets.map((t) => t.sshd)],
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Empties the targets' deploy directories (Ferry's .ferry too: every run is a first publish to a clean host). */
export async function cleanTargets(targets: Target[]): Promise<void> {
  await Promise.all(targets.map(async (t) => {
    for (const entry of await readdir(t.sshd.dir)) await rm(path.join(t.sshd.dir, entry), { recursive: true, force: true });
  }));
}

/**
 * Proves the login files run for a remote command (`ssh host true`, as sshd starts it) and measures what one shell
 * start costs there: shells recorded, their mean CPU, and the median wall time of a whole `ssh host true`.
 */
async function probeLoginShell(fleet: Fleet, tries = 5): Promise<{ tries: number; shells: number; cpuMs: number; sshTrueMs: number }> {
  const target = fleet.targets[0];
  await takeShellStarts(target.home);
  const walls: number[] = [];
  for (let i = 0; i < tries; i++) {
    const t0 = now();
    const r = await spawnTail('ssh', [...fleet.sshArgs(target), 'true'], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`ssh ${target.name} true failed: ${r.out.trim()}`);
    walls.push(now() - t0);
  }
  const starts = await takeShellStarts(target.home);
  if (starts.count !== tries) throw new Error(`${target.name}'s ~/.bashrc ran ${starts.count} times for ${tries} \`ssh host true\` (is bash built with SSH_SOURCE_BASHRC?)`);
  return { tries, shells: starts.count, cpuMs: starts.cpuMs / starts.count, sshTrueMs: median(walls) };
}

export interface LoginShellCost {
  loops: number;
  /** Shells that ran .bashrc for `tries` remote commands, their mean CPU, and the median `ssh host true`. */
  tries: number;
  shells: number;
  cpuMs: number;
  sshTrueMs: number;
}

/** Rescales the login files' loop until a shell start over sshd costs `targetMs` of CPU (within 10%, 3 corrections). */
export async function calibrateLoginShell(fleet: Fleet, loops: number, targetMs: number): Promise<LoginShellCost> {
  let probe = await probeLoginShell(fleet);
  for (let i = 0; i < 3 && Math.abs(probe.cpuMs - targetMs) > targetMs / 10; i++) {
    loops = Math.max(1, Math.round((loops * targetMs) / probe.cpuMs));
    await Promise.all(fleet.hosts.map((h) => writeLoginFiles(h.home, loops)));
    probe = await probeLoginShell(fleet);
  }
  return { loops, ...probe };
}
