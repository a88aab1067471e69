import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Browser modules import vendor files by their served URL; unit tests that load them in Node need the real file.
  resolve: { alias: { '/vendor/i18next/i18next.js': new URL('./node_modules/i18next/dist/esm/i18next.js', import.meta.url).pathname } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Integration tests start real sshd/svnserve processes; keep parallelism modest on a 2-core machine.
    maxWorkers: 2,
  },
});
