// Login shells that cost what real servers' do (rbenv/nvm/conda init, motd helpers): each target account's HOME gets a
// .bashrc that burns a calibrated amount of CPU and records what every shell start cost, so the bench can say how
// many shells each method started on each host and what they cost.
// sshd runs every remote command as `$SHELL -c command`; Debian's bash (built with SSH_SOURCE_BASHRC) then reads
// ~/.bashrc even though the shell is not interactive. An SFTP session runs through the same shell when the subsystem
// is an external program (Debian's default /usr/lib/openssh/sftp-server).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A first guess at the loop iterations for ~150 ms; calibrateLoginShell (fleet.ts) measures and corrects it. */
export const INITIAL_LOOPS = 40_000;

/** Where each shell start leaves one file with the shell's own CPU time (`times`), named by its pid. */
const SHELLS_DIR = '.bench-shells';

export interface ShellStarts {
  count: number;
  /** CPU milliseconds (user + system) of those shells up to the end of .bashrc. */
  cpuMs: number;
}

/** Writes .bashrc (the loop and the record), and .profile/.bash_profile sourcing it as Debian's skeleton does. */
export async function writeLoginFiles(home: string, loops: number): Promise<void> {
  await mkdir(path.join(home, SHELLS_DIR), { recursive: true });
  await writeFile(path.join(home, '.bashrc'), [
    '# bench:publish: a login shell whose start-up costs like a real server\'s (calibrated CPU work, not sleep).',
    `for ((i = 0; i < ${loops}; i++)); do :; done`,
    `times > "$HOME/${SHELLS_DIR}/$$-$RANDOM" 2>/dev/null`,
    '',
  ].join('\n'));
  await writeFile(path.join(home, '.bash_profile'), '[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"\n');
  await writeFile(path.join(home, '.profile'), 'if [ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n');
}

/** Reads and removes the records of the shells started under `home` since the last call. */
export async function takeShellStarts(home: string): Promise<ShellStarts> {
  const dir = path.join(home, SHELLS_DIR);
  let cpuMs = 0;
  let count = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const text = await readFile(path.join(dir, name), 'utf8').catch(() => '');
    await rm(path.join(dir, name), { force: true });
    // `times`: "0m0.152s 0m0.004s" (the shell's user and system time), then its children's.
    const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(text);
    count++;
    if (m) cpuMs += (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
  }
  return { count, cpuMs };
}
