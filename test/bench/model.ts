/**
 * `npm run bench -- model [--reps N]`: the compute backend. Times the matrix products a GPT-2
 * training step is made of, and a forward + backward of an MLP block, on the wasm backend with the
 * stock kernels and with heldout's overrides (plugins/model/backend/wasm-kernels.ts); then
 * training tokens/s (full and LoRA-shaped steps) and generation tokens/s (tfjs and ONNX Runtime)
 * on the shipped base model's shape, and the same shapes in PyTorch CPU when it is installed.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend,
  registerWasmKernels,
  restoreWasmKernels,
} from '../../plugins/model/backend/index.ts';
import { modelThroughput, torchThroughput } from './_model-throughput.ts';

const ms = (f: () => void, reps: number) => {
  f(); // warm-up: XNNPACK operator creation, heap growth
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  return Math.round(times.sort((a, b) => a - b)[Math.floor(reps / 2)]! * 100) / 100;
};

const normal = (shape: number[]) => tf.randomNormal(shape, 0, 0.05, 'float32', 1);
const run = (f: () => tf.Tensor | tf.Tensor[]) => () =>
  tf.tidy(() => {
    for (const t of [f()].flat()) t.dataSync();
  });

export default async function model(args: string[]): Promise<object> {
  const reps = Number(args[args.indexOf('--reps') + 1]) || 5;
  const info = await initBackend({ prefer: 'wasm' });
  const x = normal([8 * 128, 128]);
  const w1 = normal([128, 512]);
  const b1 = tf.zeros([512]);
  const w2 = normal([512, 128]);
  const q = normal([8 * 4, 128, 32]);
  const k = normal([8 * 4, 128, 32]);
  const gelu = (h: tf.Tensor) =>
    tf.mul(
      tf.mul(h, 0.5),
      tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(h, tf.mul(0.044715, tf.pow(h, 3)))))),
    );
  const mlpLoss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.mean(
      tf.square(
        tf.matMul(gelu(tf.fused.matMul({ a: x as tf.Tensor2D, b: a as tf.Tensor2D, bias: b })), c),
      ),
    );
  const workloads: Record<string, () => void> = {
    'matMul [1024,128]x[128,512]': run(() => tf.matMul(x, w1)),
    'matMul [32,128,32]x[32,128,32]^T (attention scores)': run(() => tf.matMul(q, k, false, true)),
    'matMul [1024,128]^T x [1024,512] (weight gradient)': run(() =>
      tf.matMul(x, tf.matMul(x, w1), true, false),
    ),
    'MLP block [1024,128]->512->128 forward+backward': run(() => tf.grads(mlpLoss)([w1, b1, w2])),
  };
  const results: Record<string, { stockMs: number; overrideMs: number; speedup: number }> = {};
  for (const [name, f] of Object.entries(workloads)) {
    restoreWasmKernels();
    const stockMs = ms(f, reps);
    registerWasmKernels();
    const overrideMs = ms(f, reps);
    results[name] = { stockMs, overrideMs, speedup: Math.round((stockMs / overrideMs) * 10) / 10 };
  }
  const throughput = await modelThroughput(reps);
  const torch = torchThroughput(reps);
  return {
    backend: info.backend,
    device: info.device,
    reps,
    kernels: results,
    ...throughput,
    pytorchCpu: torch,
  };
}
