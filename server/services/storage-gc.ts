import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Db } from '../db/client.ts';
import { checkpointCacheDir, sweepCheckpointCache } from '../serve/checkpoint-files.ts';
import { listBlobs, removeBlob, type ListedBlob } from '../storage/fs-blob-gc.ts';

/** An upload's bytes reach the store before its row commits; none takes anywhere near this. */
export const BLOB_GC_GRACE_MS = 3600_000;
const BATCH = 1000;

export interface StorageGcResult {
  /** False when another server held the lock: it is doing this pass. */
  ran: boolean;
  /** Blobs old enough to be judged. */
  examined: number;
  removed: number;
  bytesFreed: number;
  /** Directories of the serving cache removed (unused for a day). */
  cacheDirsRemoved: number;
}

/**
 * The tables that reference blobs: every one with a `storage_key` column, found in the catalogue
 * so that a table added later is never forgotten (a key that is a path or `builtin:` name, as a
 * checkpoint's, only ever keeps a blob, never loses one).
 */
async function referencingTables(db: Db): Promise<string[]> {
  const rows = (await db.execute(sql`
    select table_name from information_schema.columns
    where table_schema = current_schema() and column_name = 'storage_key'
    order by table_name`)) as unknown as { table_name: string }[];
  const tables = rows.map((r) => r.table_name);
  // Without these, every blob would look unreferenced: refuse rather than empty the store.
  for (const known of ['artifacts', 'dataset_versions']) {
    if (!tables.includes(known)) throw new Error(`blob gc: table ${known} has no storage_key`);
  }
  return tables;
}

/** The keys of `batch` that no row of any `tables` names. */
async function unreferenced(db: Db, tables: string[], batch: ListedBlob[]): Promise<Set<string>> {
  const keys = sql.join(
    batch.map((b) => sql`${b.key}`),
    sql`, `,
  );
  const absent = sql.join(
    tables.map(
      (t) => sql`not exists (select 1 from ${sql.identifier(t)} r where r.storage_key = k.key)`,
    ),
    sql` and `,
  );
  const rows = (await db.execute(
    sql`select k.key from unnest(array[${keys}]::text[]) as k(key) where ${absent}`,
  )) as unknown as { key: string }[];
  return new Set(rows.map((r) => r.key));
}

/**
 * One pass of storage garbage collection in `dataDir`: deletes the blobs that no row references
 * and that were written more than `graceMs` ago (an upload whose row is not committed yet has a
 * newer file), then the serving cache's directories unused for a day. Blobs are content-addressed
 * and shared, so "referenced" means by any row of any table. Several servers may share one
 * database and one data directory: a pass runs under a Postgres advisory lock, and a server that
 * finds it taken skips its pass.
 *
 * @example
 * const { removed, bytesFreed } = await collectStorageGarbage(database, config.dataDir);
 */
export async function collectStorageGarbage(
  database: Database,
  dataDir: string,
  { graceMs = BLOB_GC_GRACE_MS, now = new Date() } = {},
): Promise<StorageGcResult> {
  const result: StorageGcResult = {
    ran: false,
    examined: 0,
    removed: 0,
    bytesFreed: 0,
    cacheDirsRemoved: 0,
  };
  // A session lock on a connection of its own: the pass spans many statements and file
  // operations, and holds no transaction open meanwhile.
  const conn = await database.sql.reserve();
  try {
    const [row] = await conn<{ locked: boolean }[]>`
      select pg_try_advisory_lock(hashtextextended('heldout:blob-gc', 0)) as locked`;
    if (!row?.locked) return result;
    try {
      result.ran = true;
      const root = path.join(dataDir, 'store');
      const tables = await referencingTables(database.db);
      const before = new Date(now.getTime() - graceMs);
      for await (const batch of listBlobs(root, before, BATCH)) {
        result.examined += batch.length;
        const gone = await unreferenced(database.db, tables, batch);
        for (const blob of batch) {
          if (!gone.has(blob.key) || !(await removeBlob(root, blob))) continue;
          result.removed++;
          result.bytesFreed += blob.sizeBytes;
        }
      }
      const cacheDir = checkpointCacheDir(dataDir);
      result.cacheDirsRemoved = await sweepCheckpointCache(cacheDir, { now: now.getTime() });
      return result;
    } finally {
      await conn`select pg_advisory_unlock(hashtextextended('heldout:blob-gc', 0))`;
    }
  } finally {
    conn.release();
  }
}

/**
 * Runs `collectStorageGarbage` now and then every `intervalSeconds` (never when 0), logging what
 * each pass freed; a failed pass is logged and the next one tries again. `stop()` waits for a
 * pass in progress.
 *
 * @example
 * const gc = startStorageGc({ database, dataDir, logger, intervalSeconds: 3600 });
 * await gc.stop();
 */
export function startStorageGc(deps: {
  database: Database;
  dataDir: string;
  logger: Logger;
  intervalSeconds: number;
}): { stop(): Promise<void> } {
  if (deps.intervalSeconds <= 0) return { stop: async () => {} };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const pass = async () => {
    try {
      const r = await collectStorageGarbage(deps.database, deps.dataDir);
      if (!r.ran) deps.logger.debug('storage gc: another server holds the lock; skipped');
      else deps.logger.info(r, 'storage gc: removed unreferenced blobs and idle serving cache');
    } catch (err) {
      deps.logger.warn({ err }, 'storage gc failed; the next pass tries again');
    }
    if (stopped) return;
    timer = setTimeout(() => (running = pass()), deps.intervalSeconds * 1000);
    timer.unref();
  };
  running = pass();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
