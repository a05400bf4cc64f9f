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
 * and re-checks it.
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
