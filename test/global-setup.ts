// Runs once before any test file: compiles dist/ (what `npm start` runs), so the tests that start the production
// server (start, crash-recovery) find it up to date; BUILT_ENV tells the workers (forked with this environment) not
// to build again.
import { execFileSync } from 'node:child_process';
import { BUILT_ENV, REPO_ROOT } from './kit/server-process.ts';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  process.env[BUILT_ENV] = '1';
}
