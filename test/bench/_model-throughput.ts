import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelConfigSchema, type ModelConfig } from '../../plugins/model/config.ts';
import { generate } from '../../plugins/model/generate.ts';
import {
  createOnnxSession,
  generateBatchOnnx,
  generateOnnx,
  saveGpt2Onnx,
} from '../../plugins/model/onnx/index.ts';
import * as tf from '../../plugins/model/tf.ts';
import { AdamW } from '../../plugins/model/train/adamw.ts';
import {
  createModel,
  forward,
  initWeights,
  lmLoss,
  type Gpt2Model,
} from '../../plugins/model/transformer.ts';

/** The shipped base model's shape, and the batch it pretrains with. */
export const BENCH_SHAPE = {
  vocab_size: 257,
  n_positions: 256,
  n_embd: 128,
  n_layer: 4,
  n_head: 4,
  batch: 8,
  time: 128,
  loraRank: 8,
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeSteps(step: () => void, reps: number): number {
  step();
  step(); // warm-up: kernel and XNNPACK operator creation
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    step();
    times.push(performance.now() - t);
  }
  return median(times);
}

/**
 * A LoRA-shaped step: base frozen, rank-r A and B on every attention projection, the weight used
 * being W + A B (alpha = r). The real adapters live in the LoRA plugin; this measures the shape.
 */
export function loraOverride(model: Gpt2Model, rank: number) {
  const d = model.config.n_embd;
  const adapters = new Map<string, { a: tf.Variable; b: tf.Variable }>();
  for (let i = 0; i < model.config.n_layer; i++) {
    for (const [name, out] of [
      [`h.${i}.attn.c_attn.weight`, 3 * d],
      [`h.${i}.attn.c_proj.weight`, d],
    ] as const) {
      adapters.set(name, {
        a: tf.variable(tf.randomNormal([d, rank], 0, 0.02)),
        b: tf.variable(tf.zeros([rank, out])),
      });
    }
  }
  const override = (name: string, own: tf.Tensor) => {
    const ad = adapters.get(name);
    return ad ? own.add(tf.matMul(ad.a, ad.b)) : undefined;
  };
  const params = new Map<string, tf.Variable>();
  for (const [name, { a, b }] of adapters) params.set(`${name}.lora_A`, a).set(`${name}.lora_B`, b);
  return { override, params };
}

/** Training and generation throughput of the tfjs model and of its ONNX export. */
export async function modelThroughput(reps: number) {
  const s = BENCH_SHAPE;
  const config: ModelConfig = modelConfigSchema.parse(s);
  const weights = initWeights(config, 1);
  const tokens = s.batch * s.time;
  const input = tf.randomUniform([s.batch, s.time], 0, s.vocab_size, 'int32') as tf.Tensor2D;
  const target = tf.randomUniform([s.batch, s.time], 0, s.vocab_size, 'int32') as tf.Tensor2D;
  const mask = tf.ones([s.batch, s.time]) as tf.Tensor2D;

  const full = createModel(config, weights);
  const fullOpt = new AdamW(full.params);
  const fullMs = timeSteps(
    () => fullOpt.step(() => lmLoss(forward(full, input).logits, target, mask), 1e-3),
    reps,
  );

  const frozen = createModel(config, weights, () => false);
  const lora = loraOverride(frozen, s.loraRank);
  const loraOpt = new AdamW(lora.params);
  const loraMs = timeSteps(
    () =>
      loraOpt.step(
        () => lmLoss(forward(frozen, input, { override: lora.override }).logits, target, mask),
        1e-3,
      ),
    reps,
  );

  const prompt = Array.from({ length: 16 }, (_, i) => (i * 37) % 256);
  const newTokens = 64;
  const genMs = timeSteps(
    () => generate(full, prompt, { maxNewTokens: newTokens }),
    Math.max(1, Math.floor(reps / 2)),
  );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-bench-onnx-'));
  const onnx = await createOnnxSession(saveGpt2Onnx(dir, config, weights), { threads: 1 });
  const ortTimes: number[] = [];
  const ortBatchTimes: number[] = [];
  for (let i = 0; i < Math.max(3, reps); i++) {
    let t = performance.now();
    await generateOnnx(onnx, prompt, { maxNewTokens: newTokens });
    ortTimes.push(performance.now() - t);
    t = performance.now();
    await generateBatchOnnx(
      onnx,
      Array.from({ length: 8 }, () => prompt),
      { maxNewTokens: newTokens },
    );
    ortBatchTimes.push(performance.now() - t);
  }
  fs.rmSync(dir, { recursive: true, force: true });

  const perSecond = (n: number, ms: number) => Math.round((n / ms) * 1000);
  return {
    shape: s,
    training: {
      fullStepMs: Math.round(fullMs),
      fullTokensPerSecond: perSecond(tokens, fullMs),
      loraStepMs: Math.round(loraMs),
      loraTokensPerSecond: perSecond(tokens, loraMs),
    },
    generation: {
      newTokens,
      tfjsTokensPerSecond: perSecond(newTokens, genMs),
      onnxTokensPerSecond: perSecond(newTokens, median(ortTimes.slice(1))),
      onnxBatch8TokensPerSecond: perSecond(8 * newTokens, median(ortBatchTimes.slice(1))),
    },
  };
}

/** The same shapes in PyTorch on the CPU, when Debian's python3-torch is installed; else why not. */
export function torchThroughput(reps: number): object {
  const script = fileURLToPath(new URL('./torch_model.py', import.meta.url));
  // Debian's python3-torch lives under the system interpreter, which a pyenv shim may shadow.
  const python = ['/usr/bin/python3', 'python3'].find(
    (bin) => spawnSync(bin, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0,
  );
  if (!python) return { skipped: 'python3-torch is not installed (apt-get install python3-torch)' };
  // OPENBLAS_CORETYPE pins an older kernel on this machine for numpy's sake; the baseline should
  // run OpenBLAS at its best (the env notes advise unsetting both variables for benchmarks).
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const run = spawnSync(python, [script, JSON.stringify({ ...BENCH_SHAPE, reps })], {
    encoding: 'utf8',
    timeout: 600_000,
    env,
  });
  if (run.status !== 0) return { failed: run.stderr.slice(-500) };
  return JSON.parse(run.stdout) as object;
}
