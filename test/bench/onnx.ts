/**
 * `npm run bench -- onnx [threads]`: forward pass and greedy generation of a ~0.9M-parameter GPT-2
 * (vocab 512, n_embd 128, 4 layers, 4 heads) in ONNX Runtime, against TensorFlow.js on its cpu and
 * wasm backends. `threads` sets ORT's intra-op threads (default: ORT's own choice).
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { modelConfigSchema, parameterCount } from '../../plugins/model/config.ts';
import { generate } from '../../plugins/model/generate.ts';
import { saveGpt2Onnx } from '../../plugins/model/onnx/export-gpt2.ts';
import { generateBatchOnnx, generateOnnx } from '../../plugins/model/onnx/generate-onnx.ts';
import {
  createOnnxSession,
  forwardOnnx,
  releaseOnnxSession,
} from '../../plugins/model/onnx/session.ts';
import * as tf from '../../plugins/model/tf.ts';
import {
  createModel,
  disposeModel,
  forward,
  initWeights,
} from '../../plugins/model/transformer.ts';

const config = modelConfigSchema.parse({
  vocab_size: 512,
  n_positions: 256,
  n_embd: 128,
  n_layer: 4,
  n_head: 4,
});
const SEQ = 128;
const PROMPT = 16;
const NEW_TOKENS = 64;

/** Median milliseconds of `runs` calls after `warmup` unmeasured ones. */
async function medianMs(fn: () => unknown, runs = 20, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Number(times[Math.floor(runs / 2)]!.toFixed(3));
}

const round = (x: number) => Number(x.toFixed(1));

export default async function bench(args: string[]): Promise<object> {
  const threads = args[0] ? Number(args[0]) : undefined;
  const weights = initWeights(config, 1);
  const ids = [Array.from({ length: SEQ }, (_, i) => (i * 7) % config.vocab_size)];
  const prompt = ids[0]!.slice(0, PROMPT);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-bench-onnx-'));
  const exportStart = performance.now();
  const file = saveGpt2Onnx(dir, config, weights);
  const exportMs = performance.now() - exportStart;
  const onnx = await createOnnxSession(file, { threads });
  const ortForward = await medianMs(() => forwardOnnx(onnx, ids));
  const ortGenerate = await medianMs(
    () => generateOnnx(onnx, prompt, { maxNewTokens: NEW_TOKENS }),
    5,
    1,
  );
  const prompts = [prompt, prompt.slice(3), prompt.slice(8), prompt.slice(1)];
  const ortBatch = await medianMs(
    () => generateBatchOnnx(onnx, prompts, { maxNewTokens: NEW_TOKENS }),
    5,
    1,
  );
  await releaseOnnxSession(onnx);

  const tfjs: Record<string, { forwardMs: number; generateTokensPerSecond: number }> = {};
  for (const backend of ['cpu', 'wasm']) {
    if (!(await tf.setBackend(backend).catch(() => false))) continue;
    const model = createModel(config, weights);
    const input = tf.tensor2d(ids, undefined, 'int32');
    const forwardMs = await medianMs(
      () => tf.tidy(() => forward(model, input).logits.dataSync()),
      10,
      2,
    );
    const gen = await medianMs(() => generate(model, prompt, { maxNewTokens: NEW_TOKENS }), 3, 1);
    tfjs[backend] = { forwardMs, generateTokensPerSecond: round((NEW_TOKENS / gen) * 1000) };
    input.dispose();
    disposeModel(model);
  }

  const result = {
    model: { ...config, parameters: parameterCount(config) },
    onnxFileBytes: fs.statSync(file).size,
    exportMs: round(exportMs),
    ortThreads: threads ?? 'default',
    forwardMs: {
      seq: SEQ,
      ort: ortForward,
      tfjsCpu: tfjs.cpu?.forwardMs,
      tfjsWasm: tfjs.wasm?.forwardMs,
    },
    greedyTokensPerSecond: {
      prompt: PROMPT,
      newTokens: NEW_TOKENS,
      ort: round((NEW_TOKENS / ortGenerate) * 1000),
      ortBatchOf4: round(((NEW_TOKENS * prompts.length) / ortBatch) * 1000),
      tfjsCpu: tfjs.cpu?.generateTokensPerSecond,
      tfjsWasm: tfjs.wasm?.generateTokensPerSecond,
    },
    speedup: {
      forwardVsTfjsCpu: tfjs.cpu ? round(tfjs.cpu.forwardMs / ortForward) : undefined,
      forwardVsTfjsWasm: tfjs.wasm ? round(tfjs.wasm.forwardMs / ortForward) : undefined,
    },
  };
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}
