import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { modelConfigSchema, type ModelConfig } from '../config.ts';
import { CONFIG_METADATA_KEY } from './export-gpt2.ts';
import { readOnnxMetadata } from './graph-builder.ts';

/** An ONNX Runtime session over an exported GPT-2 graph, with the config it was exported from. */
export interface OnnxGpt2Session {
  config: ModelConfig;
  session: ort.InferenceSession;
}

/** Keys and values of the positions seen so far, per layer: [batch, heads, length, headDim]. */
export interface OnnxCache {
  keys: ort.Tensor[];
  values: ort.Tensor[];
  length: number;
}

export interface OnnxSessionOptions {
  /** Overrides the config stored in the model's metadata (needed for graphs made elsewhere). */
  config?: ModelConfig;
  /** ORT intra-op threads; ORT's default uses every core. */
  threads?: number;
}

/**
 * Loads an exported model (a path to `model.onnx`, or its bytes) on ORT's CPU execution provider.
 * The config comes from the model's own metadata unless given.
 *
 * @example
 * const onnx = await createOnnxSession(path.join(checkpointDir, 'model.onnx'));
 */
export async function createOnnxSession(
  source: string | Uint8Array,
  opts: OnnxSessionOptions = {},
): Promise<OnnxGpt2Session> {
  const bytes = typeof source === 'string' ? fs.readFileSync(source) : source;
  let config = opts.config;
  if (!config) {
    const stored = readOnnxMetadata(bytes)[CONFIG_METADATA_KEY];
    if (!stored) throw new Error(`the ONNX model has no ${CONFIG_METADATA_KEY} metadata`);
    config = modelConfigSchema.parse(JSON.parse(stored));
  }
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
  });
  return { config, session };
}

/** Frees the native session; the object is unusable afterwards. */
export async function releaseOnnxSession(onnx: OnnxGpt2Session): Promise<void> {
  await onnx.session.release();
}

/** An empty cache for `batch` rows: zero-length past tensors, which the graph concatenates onto. */
export function emptyOnnxCache(config: ModelConfig, batch: number): OnnxCache {
  const dims = [batch, config.n_head, 0, config.n_embd / config.n_head];
  const empty = () => new ort.Tensor('float32', new Float32Array(0), dims);
  return {
    keys: Array.from({ length: config.n_layer }, empty),
    values: Array.from({ length: config.n_layer }, empty),
    length: 0,
  };
}

export interface OnnxForwardOptions {
  /** Positions already processed; not modified (the result carries the extended cache). */
  cache?: OnnxCache;
  /** [batch, cache.length + seq], 1 = attend. Default: all ones. */
  attentionMask?: number[][];
  /** [batch, seq]. Default: cache.length + t, as `forward` in transformer.ts. */
  positionIds?: number[][];
}

export interface OnnxForwardResult {
  /** [batch, seq, vocab], row-major. */
  logits: Float32Array;
  dims: [number, number, number];
  cache: OnnxCache;
}

const int64 = (rows: number[][]) =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [
    rows.length,
    rows[0]?.length ?? 0,
  ]);

/**
 * Logits for `ids` [batch, seq] after the cached positions, and the extended cache: the ORT
 * counterpart of `forward` in transformer.ts.
 *
 * @example
 * const { logits, cache } = await forwardOnnx(onnx, [[1, 2, 3]]);
 * const next = await forwardOnnx(onnx, [[4]], { cache });
 */
export async function forwardOnnx(
  onnx: OnnxGpt2Session,
  ids: number[][],
  opts: OnnxForwardOptions = {},
): Promise<OnnxForwardResult> {
  const { config } = onnx;
  const batch = ids.length;
  const seq = ids[0]?.length ?? 0;
  if (batch === 0 || seq === 0) throw new Error('forwardOnnx needs at least one token');
  if (ids.some((row) => row.length !== seq)) throw new Error('every row needs the same length');
  const cache = opts.cache ?? emptyOnnxCache(config, batch);
  const past = cache.length;
  const positions =
    opts.positionIds ?? ids.map(() => Array.from({ length: seq }, (_, t) => past + t));
  // wpe has n_positions rows; ORT's Gather would fail with a less helpful message.
  if (positions.some((row) => row.some((p) => p < 0 || p >= config.n_positions))) {
    throw new Error(`a position exceeds n_positions ${config.n_positions}`);
  }
  const mask = opts.attentionMask ?? ids.map(() => new Array<number>(past + seq).fill(1));
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(ids),
    position_ids: int64(positions),
    attention_mask: int64(mask),
  };
  for (let i = 0; i < config.n_layer; i++) {
    feeds[`past_key_values.${i}.key`] = cache.keys[i]!;
    feeds[`past_key_values.${i}.value`] = cache.values[i]!;
  }
  const out = await onnx.session.run(feeds);
  const layers = Array.from({ length: config.n_layer }, (_, i) => i);
  return {
    logits: out.logits!.data as Float32Array,
    dims: [batch, seq, config.vocab_size],
    cache: {
      keys: layers.map((i) => out[`present.${i}.key`]!),
      values: layers.map((i) => out[`present.${i}.value`]!),
      length: past + seq,
    },
  };
}
