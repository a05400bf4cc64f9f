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
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
}
