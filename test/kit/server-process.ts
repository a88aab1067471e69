// How `npm start` runs the server, for tests and benchmarks that start Ferry as its own process: the `prestart`
// build, then the `start` script's command (`[VAR=value ...] exec node [flags] dist/src/server.js`), read from package.json
// so they run exactly what users run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export interface ServerCommand {
  /** Arguments for process.execPath. */
  args: string[];
  /** Environment the start script sets. */
  env: Record<string, string>;
  /** The command as written in package.json. */
  label: string;
}

let built = false;

/** Set by test/global-setup.ts once it has compiled dist/, so test workers do not run the build again. */
export const BUILT_ENV = 'FERRY_TEST_DIST_BUILT';

/** Builds dist/ once per process (tsc, incremental) unless the test setup did, and returns the start command. */
export function productionServerCommand(): ServerCommand {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = pkg.scripts.start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split('=');
    env[name] = value.join('=');
  }
  if (words[0] === 'exec') words.shift(); // the shell replaces itself with node, so signals reach the server
  if (words[0] !== 'node') throw new Error(`package.json "start" is not a plain node command: ${pkg.scripts.start}`);
  // Under vitest the global setup has built dist/ already (and says so in the environment it passes to the workers).
  if (!built && process.env[BUILT_ENV] !== '1') {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  built = true;
  return { args: words.slice(1), env, label: pkg.scripts.start };
}
