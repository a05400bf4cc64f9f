import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { artifacts, type checkpoints } from '../db/schema/index.ts';
import { verifyCheckpointFiles } from '../services/checkpoint-integrity.ts';
import type { BlobStore } from '../storage/blob-store.ts';

type CheckpointRow = typeof checkpoints.$inferSelect;
type FileRow = { path: string; sha256: string; sizeBytes: number; storageKey: string };

/** A directory of the cache unused this long is removed by `sweepCheckpointCache`. */
export const CHECKPOINT_CACHE_IDLE_MS = 24 * 3600_000;
// A load's own directory in the making; one this old belongs to a load that died.
const STALE_TMP_MS = 3600_000;
const DIGEST = /^[0-9a-f]{64}$/;

/**
 * Where /v1 lays out checkpoints for its loaders, in a server's data directory.
 *
 * @example
 * const cacheDir = checkpointCacheDir(config.dataDir);
 */
export const checkpointCacheDir = (dataDir: string) => path.join(dataDir, 'cache', 'checkpoints');

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Each file's sha256 as read from `dir`, or undefined when one is missing. */
async function measure(dir: string, files: { name: string; path: string }[]) {
  const measured = new Map<string, string>();
  try {
    for (const f of files) measured.set(f.path, await sha256Of(path.join(dir, f.name)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return measured;
}

/** `key`'s bytes at `target`: a hard link to the blob's own file where the store has one. */
async function place(store: BlobStore, key: string, target: string) {
  const own = await store.localFile?.(key);
  if (own) {
    try {
      return await fs.link(own, target);
    } catch {
      // Another filesystem, or one without hard links: copied below.
    }
  }
  const body = await store.open(key);
  await fs.writeFile(target, Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]));
}

/**
 * A run checkpoint's own files (not its subfolders: optimiser state and the like) as a directory
 * for the loaders, which read directories as trainers write them, after checking them against the
 * sha256 the checkpoint was registered with (throws `CheckpointCorruptError` naming both hashes).
 * The directory lives in `cacheDir` under a digest of the files' names and hashes, so it is made
 * once (of hard links into the blob store where it can be) and every later load only re-reads
 * and re-checks it. Each use marks the directory used (its mtime), which is what keeps it from
 * `sweepCheckpointCache`.
 *
 * @example
 * const dir = await checkpointDir({ db, store, cacheDir }, row); // then loadCheckpointDir(dir)
 */
export async function checkpointDir(
  deps: { db: Db; store: BlobStore; cacheDir: string },
  row: CheckpointRow,
): Promise<string> {
  if (!row.runId) throw new Error(`checkpoint ${row.id} has no files`);
  const prefix = `${row.storageKey}/`;
  const rows: FileRow[] = await deps.db
    .select({
      path: artifacts.path,
      sha256: artifacts.sha256,
      sizeBytes: artifacts.sizeBytes,
      storageKey: artifacts.storageKey,
    })
    .from(artifacts)
    .where(and(eq(artifacts.runId, row.runId), sql`starts_with(${artifacts.path}, ${prefix})`))
    .orderBy(asc(artifacts.path));
  const own = rows
    .map((f) => ({ ...f, name: f.path.slice(prefix.length) }))
    .filter((f) => !f.name.includes('/'));
  const digest = createHash('sha256')
    .update(own.map((f) => `${f.name}\t${f.sha256}\n`).join(''))
    .digest('hex');
  const dir = path.join(deps.cacheDir, digest);
  const identity = { id: row.id, sha256: row.sha256, path: row.storageKey };

  // Marked before it is read, so a sweep that is about to remove it sees the use and backs off.
  const now = new Date();
  await fs.utimes(dir, now, now).catch(() => {});
  const cached = await measure(dir, own);
  if (cached && own.every((f) => cached.get(f.path) === f.sha256)) {
    verifyCheckpointFiles(identity, rows, cached);
    return dir;
  }
  // Missing, or changed on disk since: made again from the store.
  await fs.mkdir(deps.cacheDir, { recursive: true });
  const tmp = path.join(deps.cacheDir, `.tmp-${randomBytes(8).toString('hex')}`);
  await fs.mkdir(tmp);
  try {
    for (const f of own) await place(deps.store, f.storageKey, path.join(tmp, f.name));
    const measured = (await measure(tmp, own))!;
    verifyCheckpointFiles(identity, rows, measured);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
      // Another load made the same directory meanwhile: same names, same bytes.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
    return dir;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Bounds the serving cache: removes the directories no load used for `idleMs` (a day by default)
 * and the half-made ones of loads that died. Run one at a time (under the storage pass's lock). The cache holds hard links, so a checkpoint whose
 * blobs were collected keeps its bytes on disk only until its directory goes here. A directory
 * is moved aside before it is removed and put back if a load marked it meanwhile; a load already
 * reading one that goes fails once and, next time, lays it out again from the store. Returns how
 * many directories went.
 *
 * @example
 * const removed = await sweepCheckpointCache(checkpointCacheDir(config.dataDir));
 */
export async function sweepCheckpointCache(
  cacheDir: string,
  { idleMs = CHECKPOINT_CACHE_IDLE_MS, now = Date.now() } = {},
): Promise<number> {
  const stat = await fs.lstat(cacheDir).catch(() => undefined);
  if (!stat?.isDirectory()) return 0;
  let removed = 0;
  for (const entry of await fs.readdir(cacheDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const full = path.join(cacheDir, entry.name);
    const mtime = async (dir: string) => (await fs.lstat(dir).catch(() => undefined))?.mtimeMs;
    // What a sweep that died was removing (sweeps run one at a time), or a dead load's tmp.
    const leftover =
      entry.name.startsWith('.gone-') ||
      (entry.name.startsWith('.tmp-') && ((await mtime(full)) ?? now) < now - STALE_TMP_MS);
    if (leftover) await fs.rm(full, { recursive: true, force: true });
    if (!DIGEST.test(entry.name) || ((await mtime(full)) ?? now) >= now - idleMs) continue;
    const gone = path.join(cacheDir, `.gone-${randomBytes(8).toString('hex')}`);
    if (
      !(await fs.rename(full, gone).then(
        () => true,
        () => false,
      ))
    )
      continue;
    if (((await mtime(gone)) ?? 0) >= now - idleMs) {
      // Used since it was looked at: back it goes, unless a load has laid it out anew.
      await fs.rename(gone, full).catch(() => fs.rm(gone, { recursive: true, force: true }));
      continue;
    }
    await fs.rm(gone, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
