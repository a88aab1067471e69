// Runs once before any test file: compiles dist/ (what `npm start` runs), so the tests that start the production
// server (start, crash-recovery) find it up to date and their own incremental builds write nothing, even in parallel.
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './helpers/server-process.ts';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}
