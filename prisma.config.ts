// Prisma CLI configuration. The database file lives in FERRY_DATA_DIR (default data/ next to this file); the app builds
// the same absolute path in src/config.ts so the CLI and the server always open the same file.
import path from 'node:path';
import { defineConfig } from 'prisma/config';

const dataDir = path.resolve(import.meta.dirname, process.env.FERRY_DATA_DIR ?? 'data');

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? `file:${path.join(dataDir, 'ferry.db')}` },
});
