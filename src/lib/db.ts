// The Prisma client over better-sqlite3 (pure JS/Wasm query engine: no native Prisma binary needed).
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from '../generated/prisma/client.ts';

export type Db = PrismaClient;
export type { Prisma } from '../generated/prisma/client.ts';

export function createDb(dbFile: string): Db {
  const adapter = new PrismaBetterSqlite3({ url: `file:${dbFile}` });
  return new PrismaClient({ adapter });
}
