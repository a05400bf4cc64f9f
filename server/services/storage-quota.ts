import { sql } from 'drizzle-orm';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Tx } from './registry.ts';

// Free space is asked again after this many bytes of one upload: often enough that a 2 GiB
// upload notices a disk filling under it, rarely enough that statfs costs nothing.
const DISK_CHECK_BYTES = 16 * 1024 ** 2;

/** What a project may store and how full the disk may get. */
export interface StorageLimits {
  /** Bytes a project's artifacts and dataset versions may hold together; 0: no quota. */
  projectQuotaBytes: number;
  /** Uploads are refused while less than this is free on the store's filesystem; 0: never. */
  minFreeDiskBytes: number;
}

/** The project an upload stores bytes for, and the bytes it replaces (an artifact written over). */
export interface UploadTarget {
  projectId: number;
  replacesBytes?: number;
}

/**
 * The limits from the config.
 *
 * @example
 * await putArtifact(db, store, { runId, path, body, limits: storageLimits(deps.config) });
 */
export const storageLimits = (
  config: Pick<Config, 'HELDOUT_PROJECT_QUOTA_BYTES' | 'HELDOUT_MIN_FREE_DISK_BYTES'>,
): StorageLimits => ({
  projectQuotaBytes: config.HELDOUT_PROJECT_QUOTA_BYTES,
  minFreeDiskBytes: config.HELDOUT_MIN_FREE_DISK_BYTES,
});

/**
 * A project's name and the bytes its rows hold: the files of its runs and its dataset versions
 * (a checkpoint is files of its run, so it is not counted again). Sizes as uploaded: a blob two
 * rows share counts twice, so what a project is charged never depends on what others stored.
 *
 * @example
 * const { usedBytes } = await projectStorage(db, project.id);
 */
export async function projectStorage(
  db: Tx,
  projectId: number,
): Promise<{ name: string; usedBytes: number }> {
  const rows = (await db.execute(sql`
    select p.name, (
      select coalesce(sum(a.size_bytes), 0)::int8 from artifacts a
      join runs r on r.id = a.run_id where r.project_id = p.id
    ) + (
      select coalesce(sum(v.size_bytes), 0)::int8 from dataset_versions v
      join datasets d on d.id = v.dataset_id where d.project_id = p.id
    ) as used_bytes
    from projects p where p.id = ${projectId}`)) as unknown as {
    name: string;
    used_bytes: number | string;
  }[];
  const row = rows[0];
  if (!row) throw notFound(`project ${projectId}`);
  return { name: row.name, usedBytes: Number(row.used_bytes) };
}

const overQuota = (usage: { name: string; usedBytes: number }, quota: number, room: number) =>
  new AppError(
    413,
    'payload_too_large',
    `project "${usage.name}" stores ${usage.usedBytes} bytes and its quota ` +
      `(HELDOUT_PROJECT_QUOTA_BYTES) is ${quota}: an upload may not take it past the quota, and ` +
      `this one would (${Math.max(0, room)} bytes fit); delete artifacts or dataset versions ` +
      'it no longer needs, or ask an admin to raise the quota',
    { quotaBytes: quota, usedBytes: usage.usedBytes, remainingBytes: Math.max(0, room) },
  );

async function checkFreeDisk(store: BlobStore, limits: StorageLimits): Promise<void> {
  if (limits.minFreeDiskBytes <= 0 || !store.freeBytes) return;
  if ((await store.freeBytes()) >= limits.minFreeDiskBytes) return;
  // 503, not 4xx: the client did nothing wrong and may retry once an operator frees space.
  throw new AppError(
    503,
    'unavailable',
    `the server is short of disk space: its data directory has less than ` +
      `HELDOUT_MIN_FREE_DISK_BYTES (${limits.minFreeDiskBytes}) bytes free, so uploads are ` +
      'refused until an operator frees space',
    { minFreeDiskBytes: limits.minFreeDiskBytes },
  );
}

/**
 * Guards one upload before and while it streams: refuses it at once when the disk is below its
 * floor (503) or the project has no room left (413), and otherwise returns `body` cut off the
 * moment it passes the project's room (413) or the disk falls below the floor (503). The store
 * discards a cut upload, so a refused one leaves nothing on disk. Concurrent uploads are checked
 * again at commit (`checkQuotaAtCommit`).
 *
 * @example
 * const blob = await store.put(await guardUpload(db, store, limits, { projectId }, body));
 */
export async function guardUpload(
  db: Db,
  store: BlobStore,
  limits: StorageLimits,
  target: UploadTarget,
  body: AsyncIterable<Uint8Array>,
): Promise<AsyncIterable<Uint8Array>> {
  await checkFreeDisk(store, limits);
  const quota = limits.projectQuotaBytes;
  const usage = quota > 0 ? await projectStorage(db, target.projectId) : undefined;
  const room = usage ? quota - usage.usedBytes + (target.replacesBytes ?? 0) : Infinity;
  if (usage && room < 0) throw overQuota(usage, quota, room);
  async function* guarded() {
    let seen = 0;
    let unchecked = 0;
    for await (const chunk of body) {
      seen += chunk.byteLength;
      if (usage && seen > room) throw overQuota(usage, quota, room);
      unchecked += chunk.byteLength;
      if (unchecked >= DISK_CHECK_BYTES) {
        unchecked = 0;
        await checkFreeDisk(store, limits);
      }
      yield chunk;
    }
  }
  return guarded();
}

/**
 * The quota again, inside the transaction that records an upload of `sizeBytes`, under a lock per
 * project: two uploads that each fit alone cannot both land past the quota. Call it last before
 * the insert (no other lock is taken after it, so lock order never inverts). A blob refused here
 * is already stored; no row references it, so the blob collector removes it.
 *
 * @example
 * await checkQuotaAtCommit(tx, limits, { projectId, replacesBytes: old?.sizeBytes }, blob.sizeBytes);
 */
export async function checkQuotaAtCommit(
  tx: Tx,
  limits: StorageLimits,
  target: UploadTarget,
  sizeBytes: number,
): Promise<void> {
  const quota = limits.projectQuotaBytes;
  if (quota <= 0) return;
  const lock = `project-storage:${target.projectId}`;
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${lock}, 0))`);
  const usage = await projectStorage(tx, target.projectId);
  const room = quota - usage.usedBytes + (target.replacesBytes ?? 0);
  if (sizeBytes > room) throw overQuota(usage, quota, room);
}

/**
 * A project's storage as GET /projects/{project} shows it: what it holds and its quota.
 *
 * @example
 * const { storageBytes, storageQuotaBytes } = await projectStorageView(db, project.id, limits);
 */
export async function projectStorageView(
  db: Db,
  projectId: number,
  limits: StorageLimits,
): Promise<{ storageBytes: number; storageQuotaBytes: number | null }> {
  const { usedBytes } = await projectStorage(db, projectId);
  return { storageBytes: usedBytes, storageQuotaBytes: limits.projectQuotaBytes || null };
}
