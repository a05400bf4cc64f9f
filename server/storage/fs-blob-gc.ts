import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const SHARD = /^[0-9a-f]{2}$/;
const REST = /^[0-9a-f]{62}$/;
// A blob moved aside by a removal, named for its key so a pass that died midway can put it back.
const ASIDE = /^\.gc-([0-9a-f]{62})-[0-9a-f]{16}$/;

/** A blob file as a collection pass saw it; `removeBlob` deletes exactly this file or nothing. */
export interface ListedBlob {
  key: string;
  sizeBytes: number;
  ino: number;
  mtimeMs: number;
}

const ignoreMissing = (err: NodeJS.ErrnoException) => {
  if (err.code !== 'ENOENT') throw err;
};

/** `dir` when it is a real directory (the store follows no links); undefined otherwise. */
async function realDir(dir: string): Promise<string | undefined> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  return stat?.isDirectory() ? dir : undefined;
}

/**
 * The blobs of the store at `root` (see fs-blob-store.ts) last written before `before`, in
 * batches. An upload writes a fresh file and renames it over the key, even when the key already
 * exists, so a blob that an upload still in flight will reference is always newer than `before`.
 * Links and stray names are skipped, never followed; a blob left aside by a pass that died is put
 * back first, to be judged again.
 *
 * @example
 * for await (const batch of listBlobs(root, new Date(Date.now() - 3600_000), 1000)) ...
 */
export async function* listBlobs(
  root: string,
  before: Date,
  batchSize: number,
): AsyncGenerator<ListedBlob[]> {
  const top = await realDir(path.join(root, 'blobs'));
  const base = top && (await realDir(path.join(top, 'sha256')));
  if (!base) return;
  let batch: ListedBlob[] = [];
  for (const shard of await fs.readdir(base, { withFileTypes: true })) {
    if (!shard.isDirectory() || !SHARD.test(shard.name)) continue;
    const dir = path.join(base, shard.name);
    for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isFile()) continue;
      const aside = ASIDE.exec(entry.name);
      if (aside) {
        await fs.rename(path.join(dir, entry.name), path.join(dir, aside[1]!)).catch(ignoreMissing);
        continue;
      }
      if (!REST.test(entry.name)) continue;
      const stat = await fs.lstat(path.join(dir, entry.name)).catch(() => undefined);
      if (!stat?.isFile() || stat.mtimeMs >= before.getTime()) continue;
      const key = `sha256/${shard.name}/${entry.name}`;
      batch.push({ key, sizeBytes: stat.size, ino: stat.ino, mtimeMs: stat.mtimeMs });
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length) yield batch;
}

/**
 * Deletes `blob`'s file if it is still the file that was listed, and says whether it did. An
 * upload of the same bytes renames a new file over the key at any moment, and its row may already
 * be on the way: so the file is first moved aside (atomically), checked to be the listed one, and
 * put back when it is not. A reader only ever opens a key that a committed row names, which the
 * caller checked no row does.
 *
 * @example
 * if (await removeBlob(root, blob)) freed += blob.sizeBytes;
 */
export async function removeBlob(root: string, blob: ListedBlob): Promise<boolean> {
  const [, shard, rest] = blob.key.split('/') as [string, string, string];
  if (!SHARD.test(shard) || !REST.test(rest)) return false;
  const file = path.join(root, 'blobs', 'sha256', shard, rest);
  const same = (s: { ino: number; mtimeMs: number; isFile(): boolean } | undefined) =>
    s?.isFile() && s.ino === blob.ino && s.mtimeMs === blob.mtimeMs;
  if (!same(await fs.lstat(file).catch(() => undefined))) return false;
  const aside = path.join(path.dirname(file), `.gc-${rest}-${randomBytes(8).toString('hex')}`);
  try {
    await fs.rename(file, aside);
  } catch (err) {
    ignoreMissing(err as NodeJS.ErrnoException);
    return false;
  }
  if (!same(await fs.lstat(aside).catch(() => undefined))) {
    // An upload's fresh file took the key between the check and the move: the same bytes, so
    // putting it back is right even if yet another upload has placed the key again since.
    await fs.rename(aside, file);
    return false;
  }
  await fs.unlink(aside);
  return true;
}
