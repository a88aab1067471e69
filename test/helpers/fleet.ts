// A small fleet for integration tests: a real svnserve repository, sshd targets (optionally one behind a relay),
// and the import document that configures them in Ferry as project "game".
import { startSvnServer, type SvnServer } from '../kit/svnserve.ts';
import { startSshd, type SshdHandle, type SshdOptions } from '../kit/sshd.ts';

export interface Fleet {
  svn: SvnServer;
  relay: SshdHandle | null;
  targets: Record<string, SshdHandle>;
  /** Import document: credentials, hosts (deployDir = each sshd's dir), project "game" with group zone1 = all targets. */
  importDoc(extra?: { hooks?: object[]; processes?: object[]; hostOverrides?: Record<string, object> }): object;
  stop(): Promise<void>;
}

export async function startFleet(opts: { targets: string[]; behindRelay?: string[]; files?: Parameters<SvnServer['commit']>[0]; relayOptions?: SshdOptions }): Promise<Fleet> {
  const svn = await startSvnServer();
  if (opts.files) await svn.commit(opts.files, 'first build');
  const behind = new Set(opts.behindRelay ?? []);
  const [relay, ...sshds] = await Promise.all([
    behind.size ? startSshd(opts.relayOptions ?? { logLevel: 'DEBUG1' }) : Promise.resolve(null),
    ...opts.targets.map(() => startSshd()),
  ]);
  const targets = Object.fromEntries(opts.targets.map((name, i) => [name, sshds[i]]));
  return {
    svn, relay, targets,
    importDoc: (extra = {}) => ({
      credentials: [
        ...(relay ? [{ name: 'relay-key', username: relay.username, privateKey: relay.clientKey }] : []),
        ...opts.targets.map((name) => ({ name: `${name}-key`, username: targets[name].username, privateKey: targets[name].clientKey })),
      ],
      hosts: [
        ...(relay ? [{ name: 'relay', address: '127.0.0.1', port: relay.port, credential: 'relay-key' }] : []),
        ...opts.targets.map((name) => ({
          name, address: '127.0.0.1', port: targets[name].port, credential: `${name}-key`, deployDir: targets[name].dir,
          ...(behind.has(name) ? { jump: 'relay' } : {}), ...(extra.hostOverrides?.[name] ?? {}),
        })),
      ],
      projects: [{
        name: 'game', svnUrl: `${svn.url}/trunk`, svnUsername: svn.username, svnPassword: svn.password, deployDir: '/srv/unused',
        keepSnapshots: 10, groups: { zone1: opts.targets }, processes: extra.processes ?? [], hooks: extra.hooks ?? [],
      }],
    }),
    stop: async () => {
      await Promise.all([svn.stop(), relay?.stop(), ...sshds.map((s) => s.stop())]);
    },
  };
}
