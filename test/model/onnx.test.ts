import '@tensorflow/tfjs-backend-cpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelConfigSchema, type ModelConfig, type WeightMap } from '../../plugins/model/config.ts';
import { generate, type DecodingOptions } from '../../plugins/model/generate.ts';
import { generateBatchOnnx, generateOnnx } from '../../plugins/model/onnx/generate-onnx.ts';
import { exportGpt2Onnx, saveGpt2Onnx } from '../../plugins/model/onnx/export-gpt2.ts';
import { readOnnxMetadata } from '../../plugins/model/onnx/graph-builder.ts';
import {
  createOnnxSession,
  forwardOnnx,
  releaseOnnxSession,
  type OnnxCache,
  type OnnxGpt2Session,
} from '../../plugins/model/onnx/session.ts';
import { mulberry32, normal } from '../../plugins/model/random.ts';
import * as tf from '../../plugins/model/tf.ts';
import {
  createModel,
  disposeModel,
  forward,
  initWeights,
  type Gpt2Model,
} from '../../plugins/model/transformer.ts';

const TOLERANCE = 1e-4;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Every parameter random, LayerNorm and biases included, so no term of the graph hides. */
function randomWeights(config: ModelConfig, seed: number): WeightMap {
  const rand = mulberry32(seed);
  const weights = initWeights(config, seed);
  for (const [name, w] of weights) {
    const isNorm = /ln_\d\.weight$|ln_f\.weight$/.test(name);
    const std = name.endsWith('.bias') ? 0.1 : isNorm ? 0.2 : 0.15;
    for (let i = 0; i < w.data.length; i++) w.data[i] = (isNorm ? 1 : 0) + normal(rand) * std;
  }
  return weights;
}

function randomIds(rand: () => number, batch: number, seq: number, vocab: number): number[][] {
  return Array.from({ length: batch }, () =>
    Array.from({ length: seq }, () => Math.floor(rand() * vocab)),
  );
}

function tfLogits(model: Gpt2Model, ids: number[][]): Float32Array {
  return tf.tidy(
    () => forward(model, tf.tensor2d(ids, undefined, 'int32')).logits.dataSync() as Float32Array,
  );
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Logits of positions [from, to) of each row of a [batch, seq, vocab] array. */
function slicePositions(
  logits: Float32Array,
  [batch, seq, vocab]: number[],
  from: number,
  to: number,
): Float32Array {
  const out: number[] = [];
  for (let b = 0; b < batch!; b++) {
    out.push(...logits.subarray((b * seq! + from) * vocab!, (b * seq! + to) * vocab!));
  }
  return Float32Array.from(out);
}

const configs = [
  { vocab_size: 37, n_positions: 32, n_embd: 8, n_layer: 1, n_head: 1 },
  { vocab_size: 61, n_positions: 32, n_embd: 16, n_layer: 2, n_head: 4 },
  { vocab_size: 50, n_positions: 40, n_embd: 12, n_layer: 3, n_head: 2, n_inner: 20 },
].map((c) => modelConfigSchema.parse(c));

describe.each(configs)('ONNX export of GPT-2 (n_layer $n_layer, n_head $n_head)', (config) => {
  let model: Gpt2Model;
  let onnx: OnnxGpt2Session;
  const seed = config.n_layer * 10 + config.n_head;

  beforeAll(async () => {
    const weights = randomWeights(config, seed);
    model = createModel(config, weights);
    onnx = await createOnnxSession(exportGpt2Onnx(config, weights), { threads: 1 });
  });
  afterAll(async () => {
    disposeModel(model);
    await releaseOnnxSession(onnx);
  });

  it('agrees with the tfjs forward pass without a cache', async () => {
    const rand = mulberry32(seed);
    let worst = 0;
    for (const [batch, seq] of [
      [1, 1],
      [2, 7],
      [3, 20],
      [1, 13],
    ] as const) {
      const ids = randomIds(rand, batch, seq, config.vocab_size);
      const { logits, dims } = await forwardOnnx(onnx, ids);
      expect(dims).toEqual([batch, seq, config.vocab_size]);
      worst = Math.max(worst, maxAbsDiff(logits, tfLogits(model, ids)));
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('agrees with the tfjs forward pass when prefilling then stepping with the cache', async () => {
    const rand = mulberry32(seed + 1);
    let worst = 0;
    for (const [batch, prefill, steps] of [
      [1, 1, 6],
      [2, 5, 4],
      [3, 9, 3],
    ] as const) {
      const ids = randomIds(rand, batch, prefill + steps, config.vocab_size);
      const full = tfLogits(model, ids);
      const dims = [batch, prefill + steps, config.vocab_size];
      const first = await forwardOnnx(
        onnx,
        ids.map((row) => row.slice(0, prefill)),
      );
      worst = Math.max(worst, maxAbsDiff(first.logits, slicePositions(full, dims, 0, prefill)));
      let cache: OnnxCache = first.cache;
      for (let t = prefill; t < prefill + steps; t++) {
        const step = await forwardOnnx(
          onnx,
          ids.map((row) => [row[t]!]),
          { cache },
        );
        cache = step.cache;
        worst = Math.max(worst, maxAbsDiff(step.logits, slicePositions(full, dims, t, t + 1)));
      }
      expect(cache.length).toBe(prefill + steps);
      expect(cache.keys[0]!.dims).toEqual([
        batch,
        config.n_head,
        prefill + steps,
        config.n_embd / config.n_head,
      ]);
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('generates the same tokens as tfjs, greedy and seeded sampling alike', async () => {
    const prompt = [3, 1, 4, 1, 5];
    const settings: DecodingOptions[] = [
      { maxNewTokens: 12 },
      { maxNewTokens: 12, temperature: 0.9, topK: 10, topP: 0.9, seed: 7 },
      { maxNewTokens: 12, temperature: 1.3, seed: 3 },
    ];
    for (const opts of settings) {
      const expected = generate(model, prompt, opts);
      const actual = await generateOnnx(onnx, prompt, opts);
      expect(actual.ids).toEqual(expected.ids);
      expect(actual.finishReason).toBe(expected.finishReason);
      expect(
        maxAbsDiff(Float32Array.from(actual.logprobs), Float32Array.from(expected.logprobs)),
      ).toBeLessThan(TOLERANCE);
    }
  });
});

describe('ONNX generation', () => {
  const config = configs[1]!;
  const weights = randomWeights(config, 99);
  let model: Gpt2Model;
  let onnx: OnnxGpt2Session;

  beforeAll(async () => {
    model = createModel(config, weights);
    onnx = await createOnnxSession(exportGpt2Onnx(config, weights), { threads: 1 });
  });
  afterAll(async () => {
    disposeModel(model);
    await releaseOnnxSession(onnx);
  });

  it('batches left-padded prompts without changing any row', async () => {
    const prompts = [[5], [7, 8, 9, 10, 11, 12], [2, 3, 4]];
    for (const opts of [
      { maxNewTokens: 8 },
      { maxNewTokens: 8, temperature: 0.8, seed: 5 },
    ] satisfies DecodingOptions[]) {
      const batched = await generateBatchOnnx(onnx, prompts, opts);
      for (const [i, prompt] of prompts.entries()) {
        expect(batched[i]!.ids).toEqual(generate(model, prompt, opts).ids);
      }
    }
  });

  it('stops after a stop id and at n_positions, as generate() does', async () => {
    const greedy = generate(model, [1, 2], { maxNewTokens: 6 });
    const stopAt = greedy.ids[2]!;
    const stopped = await generateOnnx(onnx, [1, 2], { maxNewTokens: 6, stopIds: [stopAt] });
    expect(stopped).toEqual({
      ...generate(model, [1, 2], { maxNewTokens: 6, stopIds: [stopAt] }),
      logprobs: expect.any(Array),
    });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.ids.at(-1)).toBe(stopAt);

    const long = Array.from({ length: config.n_positions - 2 }, (_, i) => i % config.vocab_size);
    const capped = await generateOnnx(onnx, long, { maxNewTokens: 10 });
    expect(capped.ids).toHaveLength(2);
    expect(capped.finishReason).toBe('length');
    await expect(forwardOnnx(onnx, [[...long, 1, 2, 3]])).rejects.toThrow(/n_positions/);
  });

  it('saves model.onnx beside the checkpoint with HF-named float32 initializers', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-onnx-'));
    try {
      const file = saveGpt2Onnx(dir, config, weights);
      expect(path.basename(file)).toBe('model.onnx');
      const bytes = fs.readFileSync(file);
      expect(JSON.parse(readOnnxMetadata(bytes)['heldout.config']!)).toEqual(config);

      const decoded = onnxProto.onnx.ModelProto.decode(bytes);
      const byName = new Map(decoded.graph!.initializer!.map((t) => [t.name, t]));
      for (const [name, w] of weights) {
        const t = byName.get(name)!;
        expect(t.dataType).toBe(onnxProto.onnx.TensorProto.DataType.FLOAT);
        expect(t.dims!.map(Number)).toEqual(w.shape);
        expect(new Float32Array(Uint8Array.from(t.rawData!).buffer)).toEqual(w.data);
      }

      // The config comes from the file's own metadata.
      const fromFile = await createOnnxSession(file, { threads: 1 });
      const ids = [[4, 8, 15, 16, 23, 42]];
      expect(
        maxAbsDiff((await forwardOnnx(fromFile, ids)).logits, tfLogits(model, ids)),
      ).toBeLessThan(TOLERANCE);
      await releaseOnnxSession(fromFile);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
