// The SSH transport on ssh2: reaches a target directly or through a chain of jump hosts, pins host keys, runs shell
// commands (environment, timeout, live output, streamed stdin: how packages travel). connect.ts opens connections,
// session.ts runs commands on them, agent.ts serves forwarded keys; errors.ts needs no ssh2.
import type { ConnectOptions, HostTarget, RemoteSession, Transport } from '../types.ts';
import { connectChain } from './connect.ts';
import { SshSession } from './session.ts';

export { CommandTimeoutError, TransportError } from './errors.ts';

export function createSshTransport(): Transport {
  return {
    async connect(target: HostTarget, opts: ConnectOptions = {}): Promise<RemoteSession> {
      return new SshSession(target.name, await connectChain(target, opts));
    },
  };
}
