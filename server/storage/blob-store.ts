/**
 * Where uploaded bytes live. Blobs are content-addressed and immutable, so a key never changes
 * meaning, identical uploads share one blob, and the database row is the only thing a user's name
 * (an artifact path, a dataset name) ever touches: nothing a client sends becomes a file path.
 */
export interface StoredBlob {
  /** Opaque key to `open` the blob later; stored in the database as `storage_key`. */
  key: string;
  sha256: string;
  sizeBytes: number;
}

export interface BlobStore {
  /**
   * Consumes `source` to its end, hashing while writing to a temporary file, and only then moves
   * the bytes into place. If `source` throws (a size limit, a validation error) nothing is kept.
   */
  put(source: AsyncIterable<Uint8Array>): Promise<StoredBlob>;
  /** A stream of the blob's bytes; throws a `BlobNotFoundError` when it is gone. */
  open(key: string): Promise<ReadableStream<Uint8Array>>;
  /**
   * The blob's own file, for readers that need a path (a hard link to it costs no copy); only a
   * store on the local filesystem has one. Never written to: the bytes are the blob's.
   */
  localFile?(key: string): Promise<string>;
  /** Bytes still free where new blobs are written (a local filesystem's `statfs`). */
  freeBytes?(): Promise<number>;
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
}
