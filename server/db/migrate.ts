import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { Db } from './client.ts';
import * as schema from './schema/index.ts';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { installJobQueue } from '../jobs/queue.ts';

export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url));

// Any fixed number works; it only has to be the same in every heldout process.
const MIGRATION_LOCK = 0x68656c64;

/**
 * Applies the committed migrations. Several servers may start at once against one database, so the
 * work runs under an advisory lock on a single connection; whoever comes second finds nothing to do.
 * The job queue's own schema (pg-boss) is installed the same way. `afterMigrate` runs inside the same lock, for other once-only start-up work.
 */
export async function migrateDatabase(
  url: string,
  afterMigrate?: (db: Db) => Promise<void>,
): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`;
    const db = drizzle(sql, { schema });
    await migrate(db, { migrationsFolder });
    await installJobQueue(sql);
    await afterMigrate?.(db);
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
