// Free 127.0.0.1 ports for the servers tests start. A port is handed out once per test process: the kernel may
// offer a just-closed port again, and two servers of one test must not race for it.
import { createServer } from 'node:net';

const portsHandedOut = new Set<number>();

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A port that was free a moment ago on 127.0.0.1 and was not handed out before in this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await ephemeralPort();
    if (!portsHandedOut.has(port)) {
      portsHandedOut.add(port);
      return port;
    }
  }
}
