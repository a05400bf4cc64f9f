/**
 * The checkpoints `/v1` has loaded, by checkpoint id: never by alias, so when an alias moves the
 * next request simply asks for another checkpoint, and a version two aliases share loads once.
 *
 * Engine: TensorFlow.js, the evaluation path's own (server/worker/evaluate.ts), for full
 * checkpoints and adapters alike, so what a client is served is what the gate judged, token for
 * token. An adapter is its forward options (`loadAdapter`) on its base, which is loaded once and
 * shared by every adapter of it: a LoRA adapter costs its own few hundred kB, not another copy of
 * the base. ONNX Runtime generates several times faster (`npm run bench -- model`), but its logits
 * agree with tfjs only to 1e-4, enough to flip a greedy choice now and then, and it would need
 * one merged export per adapter; it belongs here once evaluations generate with it too.
 */
import { eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import * as m from '../../plugins/model/index.ts';
import { BUILTIN_MODELS } from '../../plugins/model/base/builtin.ts';
import type { Db } from '../db/client.ts';
import { checkpoints } from '../db/schema/index.ts';
import { CheckpointCorruptError } from '../services/checkpoint-integrity.ts';
import { adapterBaseSource, builtinModelName } from '../services/jobs.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { checkpointDir } from './checkpoint-files.ts';

type CheckpointRow = typeof checkpoints.$inferSelect;

/** A model ready to generate: a base, and the adapter to apply to it, if any. */
export interface ServedModel {
  model: m.Gpt2Model;
  tokenizer: m.Tokenizer;
  adapter?: m.LoadedAdapter;
  /** Positions left for prompt and completion (a prompt-tuning prefix takes some). */
  contextLength: number;
}

interface Base {
  model: m.Gpt2Model;
  tokenizer: m.Tokenizer;
}

interface Entry<T> {
  value: Promise<T>;
  users: number;
  lastUsed: number;
  dispose: (value: T) => void;
}

// tfjs's backend is process-wide: chosen once, as the worker's child does (HELDOUT_BACKEND or
// the first that loads), so serving and evaluating on one machine compute alike.
let backend: Promise<m.BackendInfo> | undefined;
const ensureBackend = () => (backend ??= m.initBackend());

type Source = { kind: 'builtin'; name: string } | { kind: 'checkpoint'; row: CheckpointRow };

export interface ModelCacheDeps {
  db: Db;
  store: BlobStore;
  logger: Logger;
  /** Checkpoints kept loaded. */
  max: number;
  /** Where checkpoints' files are laid out for the loaders (checkpoint-files.ts). */
  cacheDir: string;
  /** How long a failed load is answered from memory before it is tried again. */
  failedLoadTtlMs: number;
}

/**
 * Loads checkpoints on first use and keeps at most `max` of them (bases and adapters alike),
 * dropping the least recently used one nobody is generating with. Loads in flight are shared. A
 * load that failed because of the checkpoint's own files (not the registered checkpoint, weights
 * that do not parse, a config or tokenizer missing or invalid) is remembered for
 * `failedLoadTtlMs`: each request meanwhile gets the same error at once instead of reading the
 * checkpoint again. Any other failure (the database, the disk, the store) is not remembered: the
 * next request tries again.
 */
export class ModelCache {
  readonly #entries = new Map<string, Entry<unknown>>();
  readonly #failed = new Map<string, { error: unknown; until: number }>();

  constructor(private readonly deps: ModelCacheDeps) {}

  /** The model to generate with for `checkpoint`; call `release` when done with it. */
  async acquire(checkpoint: CheckpointRow): Promise<{ served: ServedModel; release(): void }> {
    await ensureBackend();
    const held: string[] = [];
    const release = () => {
      for (const key of held.splice(0)) {
        const e = this.#entries.get(key);
        if (e) e.users--;
      }
      this.#evict();
    };
    try {
      if (checkpoint.kind !== 'adapter') {
        const source = sourceOf(checkpoint);
        const base = await this.#use(held, keyOf(source), () => this.#loadBase(source));
        return { served: { ...base, contextLength: base.model.config.n_positions }, release };
      }
      // The base an evaluation of this adapter used: the first full model up its lineage.
      const parent = await adapterBaseSource(this.deps.db, checkpoint, 'model');
      const source: Source =
        parent.kind === 'builtin'
          ? parent
          : { kind: 'checkpoint', row: await this.#row(parent.checkpointId) };
      const base = await this.#use(held, keyOf(source), () => this.#loadBase(source));
      const adapter = await this.#use(
        held,
        `adapter:${checkpoint.id}`,
        () => this.#withFiles(checkpoint, (dir) => m.loadAdapter(dir, base.model.config)),
        (a) => a.dispose(),
      );
      const prefix = adapter.options.prefixEmbeddings?.shape[0] ?? 0;
      return {
        served: { ...base, adapter, contextLength: base.model.config.n_positions - prefix },
        release,
      };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** How many checkpoints are loaded (or loading) now. */
  get size() {
    return this.#entries.size;
  }

  async #use<T>(
    held: string[],
    key: string,
    load: () => Promise<T>,
    dispose: (value: T) => void = () => {},
  ): Promise<T> {
    const failed = this.#failed.get(key);
    if (failed && failed.until > performance.now()) throw failed.error;
    this.#failed.delete(key);
    let entry = this.#entries.get(key) as Entry<T> | undefined;
    if (!entry) {
      entry = { value: load(), users: 0, lastUsed: 0, dispose };
      this.#entries.set(key, entry as Entry<unknown>);
      // Kept out of the loaded entries (it would take a slot of `max`), and tried again later.
      entry.value.catch((error: unknown) => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        if (!isLasting(error)) return;
        const now = performance.now();
        for (const [k, f] of this.#failed) if (f.until <= now) this.#failed.delete(k);
        this.#failed.set(key, { error, until: now + this.deps.failedLoadTtlMs });
      });
    }
    entry.users++;
    entry.lastUsed = performance.now();
    held.push(key);
    return entry.value;
  }

  #evict() {
    while (this.#entries.size > this.deps.max) {
      const idle = [...this.#entries].filter(([, e]) => e.users === 0);
      if (!idle.length) return;
      const [key, entry] = idle.reduce((a, b) => (b[1].lastUsed < a[1].lastUsed ? b : a));
      this.#entries.delete(key);
      entry.value.then(entry.dispose, () => {});
      this.deps.logger.debug({ key }, 'serving: unloaded a checkpoint');
    }
  }

  async #row(id: string): Promise<CheckpointRow> {
    const [row] = await this.deps.db.select().from(checkpoints).where(eq(checkpoints.id, id));
    if (!row) throw new Error(`checkpoint ${id} is gone`);
    return row;
  }

  async #loadBase(source: Source): Promise<Base> {
    const load = async (dir: string) => {
      const { config, weights } = await m.loadCheckpointDir(dir);
      const tokenizer = await m.loadTokenizer(dir);
      return { model: m.createModel(config, weights, () => false), tokenizer };
    };
    if (source.kind === 'builtin') {
      const dir = BUILTIN_MODELS[source.name];
      if (!dir) throw new Error(`this server has no built-in model "${source.name}"`);
      return parsing(dir, load);
    }
    return this.#withFiles(source.row, load);
  }

  /** A run checkpoint's files, verified, as the directory the loaders read. */
  async #withFiles<T>(row: CheckpointRow, use: (dir: string) => Promise<T>): Promise<T> {
    return parsing(await checkpointDir(this.deps, row), use);
  }
}

// Failures of the loaders on files already in place: what the bytes say, so they will say it again.
const unparsable = new WeakSet<object>();

/**
 * Runs the loaders on `dir`, marking what they throw as the files' own fault, except errors of the
 * system (a full file table, an I/O error) other than a file that is not there.
 */
async function parsing<T>(dir: string, use: (dir: string) => Promise<T>): Promise<T> {
  try {
    return await use(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (typeof err === 'object' && err && (code === undefined || code === 'ENOENT')) {
      unparsable.add(err);
    }
    throw err;
  }
}

/** Whether loading again would fail the same way: the failure is the checkpoint's own files. */
const isLasting = (err: unknown) =>
  err instanceof CheckpointCorruptError ||
  (typeof err === 'object' && !!err && unparsable.has(err));

// A built-in base is one entry whether a version names it or an adapter applies to it.
const keyOf = (s: Source) =>
  s.kind === 'builtin' ? `builtin:${s.name}` : `checkpoint:${s.row.id}`;

function sourceOf(row: CheckpointRow): Source {
  const name = builtinModelName(row);
  return name ? { kind: 'builtin', name } : { kind: 'checkpoint', row };
}
