/**
 * What makes a set of files the checkpoint that was registered, checked by everything that loads
 * weights: `/v1` reading the blob store, and workers reading what they downloaded. Pure, so the
 * server and a worker on another machine apply one rule.
 */
import { createHash } from 'node:crypto';
// The errors module alone: the SDK's index brings the model toolkit (and TensorFlow.js) with it.
import { PluginError } from '../../plugins/sdk/errors.ts';

/** The file that identifies a checkpoint (its sha256 is the checkpoint's) and the config beside it. */
export const checkpointLayout = {
  full: { weights: 'model.safetensors', config: 'config.json' },
  adapter: { weights: 'adapter_model.safetensors', config: 'adapter_config.json' },
} as const;

const WEIGHTS_FILES: ReadonlySet<string> = new Set(
  Object.values(checkpointLayout).map((l) => l.weights),
);

/** A checkpoint as a loader knows it: its id, the sha256 it was registered with, its path. */
export interface CheckpointIdentity {
  id: string;
  sha256: string;
  /** The artifact prefix of its files in its run (`checkpoints/step-N`). */
  path: string;
}

/** One artifact under a checkpoint's path, as its row records it. */
export interface CheckpointFile {
  path: string;
  sha256: string;
  sizeBytes: number;
}

/**
 * Files that are not the ones registered: never retried (the bytes will not mend themselves), and
 * named loudly with the checkpoint and both hashes. A PluginError so that a worker's job fails
 * non-retryably with this message.
 */
export class CheckpointCorruptError extends PluginError {
  override name = 'CheckpointCorruptError';
  constructor(
    readonly checkpointId: string,
    readonly expected: string,
    readonly actual: string,
    what: string,
  ) {
    super(
      `checkpoint ${checkpointId} is corrupt: ${what} has sha256 ${actual}, but ${expected} was ` +
        'registered; refusing to load it',
      false,
    );
  }
}

/**
 * The identity of a checkpoint registered from a whole directory of files rather than from its
 * weights (an MLflow model version whose source is logged files): sha256 over one
 * `path\tsha256\tsize\n` line per file in byte order of the paths.
 *
 * @example
 * manifestDigest([{ path: 'model/MLmodel', sha256: 'ab…', sizeBytes: 12 }]);
 */
export function manifestDigest(files: readonly CheckpointFile[]): string {
  const sorted = [...files].sort((a, b) =>
    Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)),
  );
  const manifest = sorted.map((f) => `${f.path}\t${f.sha256}\t${f.sizeBytes}\n`).join('');
  return createHash('sha256').update(manifest).digest('hex');
}

/**
 * Throws `CheckpointCorruptError` unless `files` are the checkpoint that was registered. `files`
 * is every artifact under the checkpoint's path as the rows record them; `measured` holds the
 * sha256 of the bytes actually read, by path, for each file the loader reads. A file read as
 * other bytes than its row records was changed in the store; otherwise the weights file's row
 * must carry the registered sha256 (or, for a checkpoint registered from a directory, the
 * manifest of all rows must), so a row pointed at other bytes is caught too.
 *
 * @example
 * verifyCheckpointFiles({ id, sha256, path: 'checkpoints/step-2' }, rows, measuredByPath);
 */
export function verifyCheckpointFiles(
  checkpoint: CheckpointIdentity,
  files: readonly CheckpointFile[],
  measured: ReadonlyMap<string, string>,
): void {
  const prefix = `${checkpoint.path}/`;
  for (const f of files) {
    const actual = measured.get(f.path);
    if (actual !== undefined && actual !== f.sha256)
      throw new CheckpointCorruptError(checkpoint.id, f.sha256, actual, f.path);
  }
  const weights = files.filter((f) => WEIGHTS_FILES.has(f.path.slice(prefix.length)));
  if (weights.some((f) => f.sha256 === checkpoint.sha256)) return;
  if (manifestDigest(files) === checkpoint.sha256) return;
  const [first] = weights;
  throw first
    ? new CheckpointCorruptError(checkpoint.id, checkpoint.sha256, first.sha256, first.path)
    : new CheckpointCorruptError(
        checkpoint.id,
        checkpoint.sha256,
        manifestDigest(files),
        `the manifest of the files under ${checkpoint.path}`,
      );
}
