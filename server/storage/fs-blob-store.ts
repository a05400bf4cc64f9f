import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobNotFoundError, type BlobStore, type StoredBlob } from './blob-store.ts';

const KEY = /^sha256\/([0-9a-f]{2})\/([0-9a-f]{62})$/;

const missing = (key: string) => (err: NodeJS.ErrnoException) => {
  throw err.code === 'ENOENT' ? new BlobNotFoundError(`blob ${key} is missing`) : err;
};

/**
 * A blob store in a local directory: `blobs/sha256/ab/cdef...` (the first two hex digits fan the
 * files out so no directory grows to millions of entries) and `tmp/` for uploads in flight, on the
 * same filesystem so the final `rename` is atomic: a reader sees a whole blob or none.
 *
 * @example
 * const store = createFsBlobStore(path.join(config.dataDir, 'store'));
 * const { key, sha256 } = await store.put(body);
 */
export function createFsBlobStore(root: string): BlobStore {
  const tmpDir = path.join(root, 'tmp');
  const blobPath = (key: string) => {
    const m = KEY.exec(key);
    if (!m) throw new BlobNotFoundError(`not a blob key: ${key}`);
    return path.join(root, 'blobs', 'sha256', m[1]!, m[2]!);
  };
  // Keys are hex hashes, so no key can name a path outside the store; what remains is a symlink
  // planted inside it (by someone with access to the data directory, or a restored backup). The
  // store's own files are never links, so any link on the way is refused rather than followed.
  const contained = async (file: string) => {
    const [realRoot, real] = await Promise.all([fs.realpath(root), fs.realpath(file)]);
    if (real !== path.join(realRoot, path.relative(root, file))) {
      throw new Error(`${file} resolves to ${real} through a symlink; the blob store follows none`);
    }
  };

  return {
    async put(source): Promise<StoredBlob> {
      await fs.mkdir(tmpDir, { recursive: true });
      await contained(tmpDir);
      const tmp = path.join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
      const file = await fs.open(tmp, 'wx');
      const hash = createHash('sha256');
      let sizeBytes = 0;
      try {
        try {
          for await (const chunk of source) {
            hash.update(chunk);
            sizeBytes += chunk.byteLength;
            // Awaiting each write is the back-pressure: the request is read no faster than disk.
            await file.write(chunk);
          }
          // The row that points at this blob is committed next; the bytes must outlive a crash.
          await file.sync();
        } finally {
          await file.close();
        }
        const sha256 = hash.digest('hex');
        const key = `sha256/${sha256.slice(0, 2)}/${sha256.slice(2)}`;
        const target = blobPath(key);
        await fs.mkdir(path.dirname(target), { recursive: true });
        await contained(path.dirname(target));
        // Same key, same bytes: replacing an existing blob is harmless, so no existence check races.
        await fs.rename(tmp, target);
        return { key, sha256, sizeBytes };
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw err;
      }
    },

    async open(key) {
      const file = blobPath(key);
      await contained(file).catch(missing(key));
      // O_NOFOLLOW closes the gap between the check and the open for the last component.
      const handle = await fs
        .open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
        .catch(missing(key));
      return Readable.toWeb(handle.createReadStream()) as ReadableStream<Uint8Array>;
    },

    async localFile(key) {
      const file = blobPath(key);
      await contained(file).catch(missing(key));
      return file;
    },

    async freeBytes() {
      // Before the first upload the store's directory may not exist: its nearest parent's
      // filesystem is where it will be made.
      for (let dir = root; ; dir = path.dirname(dir)) {
        try {
          const { bavail, bsize } = await fs.statfs(dir);
          return bavail * bsize;
        } catch (err) {
          const gone = (err as NodeJS.ErrnoException).code === 'ENOENT';
          if (!gone || dir === path.dirname(dir)) throw err;
        }
      }
    },
  };
}

/**
 * The store for a server's data directory. Another backend (S3, GCS) would be chosen here.
 *
 * @example
 * const store = blobStoreFor(config.dataDir);
 */
export function blobStoreFor(dataDir: string): BlobStore {
  return createFsBlobStore(path.join(dataDir, 'store'));
}

/**
 * Removes the partial uploads that a killed server left in the store's `tmp/`: files there last
 * written before `before` (the caller's cut-off, well before this server's start, since other
 * servers may be streaming into the same `tmp/`). An upload in flight writes its file chunk by
 * chunk, so its time is newer; only regular files and stray links (unlinked, never followed) are
 * removed, and nothing outside `tmp/`. Returns how many went.
 *
 * @example
 * const removed = await removeStaleUploads(config.dataDir, new Date(Date.now() - BLOB_GC_GRACE_MS));
 */
export async function removeStaleUploads(dataDir: string, before: Date): Promise<number> {
  const tmpDir = path.join(dataDir, 'store', 'tmp');
  const stat = await fs.lstat(tmpDir).catch(() => undefined);
  // A link in place of tmp/ would aim the removal elsewhere; put() refuses it, so do we.
  if (!stat?.isDirectory()) return 0;
  let removed = 0;
  for (const entry of await fs.readdir(tmpDir, { withFileTypes: true })) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const file = path.join(tmpDir, entry.name);
    const { mtimeMs } = await fs.lstat(file).catch(() => ({ mtimeMs: Infinity }));
    if (mtimeMs >= before.getTime()) continue;
    await fs.unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    removed++;
  }
  return removed;
}
