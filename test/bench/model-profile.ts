/**
 * `npm run bench -- model-profile [--reps N]`: where a training step's time goes on wasm. Wraps
 * every wasm kernel with a timer (self time: a kernel that runs another, as the matrix product
 * runs Transpose, is charged only for its own part) and prints, for the full and the LoRA-shaped
 * step of `bench model`, milliseconds and calls per kernel, and what is left outside the kernels
 * (tfjs's engine: the tape, tidy, shape checks).
 */
import {
  getKernelsForBackend,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
} from '@tensorflow/tfjs-core';
import { initBackend } from '../../plugins/model/backend/index.ts';
import { modelConfigSchema } from '../../plugins/model/config.ts';
import * as tf from '../../plugins/model/tf.ts';
import { AdamW } from '../../plugins/model/train/adamw.ts';
import { createModel, forward, initWeights, lmLoss } from '../../plugins/model/transformer.ts';
import { BENCH_SHAPE, loraOverride } from './_model-throughput.ts';

interface Tally {
  ms: number;
  calls: number;
}

// With `--shapes`, kernels are also told apart by their input shapes and attributes.
function kernelKey(name: string, args: Parameters<KernelConfig['kernelFunc']>[0], shapes: boolean) {
  if (!shapes) return name;
  const inputs = Object.values(args.inputs).map((t) => `[${t?.shape ?? ''}]`);
  const attrs = Object.entries(args.attrs ?? {})
    .filter(([, v]) => typeof v !== 'object' || Array.isArray(v))
    .map(([k, v]) => `${k}=${String(v)}`);
  return `${name} ${inputs.join(' ')} ${attrs.join(' ')}`.trim();
}

function instrument(shapes: boolean): { tallies: Map<string, Tally>; restore: () => void } {
  const tallies = new Map<string, Tally>();
  const stack: number[] = []; // time spent in nested kernels, per open frame
  const originals: KernelConfig[] = [...getKernelsForBackend('wasm')];
  for (const k of originals) {
    unregisterKernel(k.kernelName, 'wasm');
    registerKernel({
      ...k,
      kernelFunc: (args) => {
        stack.push(0);
        const t = performance.now();
        const out = k.kernelFunc(args);
        const total = performance.now() - t;
        const nested = stack.pop()!;
        if (stack.length) stack[stack.length - 1]! += total;
        const key = kernelKey(k.kernelName, args, shapes);
        const tally = tallies.get(key) ?? { ms: 0, calls: 0 };
        tally.ms += total - nested;
        tally.calls += 1;
        tallies.set(key, tally);
        return out;
      },
    });
  }
  const restore = () => {
    for (const k of originals) {
      unregisterKernel(k.kernelName, 'wasm');
      registerKernel(k);
    }
  };
  return { tallies, restore };
}

function profile(step: () => void, reps: number, shapes: boolean) {
  step();
  step();
  const { tallies, restore } = instrument(shapes);
  const t = performance.now();
  for (let i = 0; i < reps; i++) step();
  const stepMs = (performance.now() - t) / reps;
  restore();
  const rows = [...tallies]
    .map(([kernel, { ms, calls }]) => ({ kernel, ms: ms / reps, calls: calls / reps }))
    .sort((a, b) => b.ms - a.ms);
  const kernelMs = rows.reduce((s, r) => s + r.ms, 0);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    stepMs: round(stepMs),
    kernelMs: round(kernelMs),
    outsideKernelsMs: round(stepMs - kernelMs),
    kernelCalls: rows.reduce((s, r) => s + r.calls, 0),
    kernels: Object.fromEntries(rows.map((r) => [r.kernel, `${round(r.ms)} ms / ${r.calls}`])),
  };
}

export default async function modelProfile(args: string[]): Promise<object> {
  const reps = Number(args[args.indexOf('--reps') + 1]) || 5;
  const shapes = args.includes('--shapes');
  await initBackend({ prefer: 'wasm' });
  const s = BENCH_SHAPE;
  const config = modelConfigSchema.parse(s);
  const weights = initWeights(config, 1);
  const input = tf.randomUniform([s.batch, s.time], 0, s.vocab_size, 'int32') as tf.Tensor2D;
  const target = tf.randomUniform([s.batch, s.time], 0, s.vocab_size, 'int32') as tf.Tensor2D;
  const mask = tf.ones([s.batch, s.time]) as tf.Tensor2D;

  const full = createModel(config, weights);
  const fullOpt = new AdamW(full.params);
  const loss = () => lmLoss(forward(full, input).logits, target, mask);
  const forwardOnly = profile(() => tf.tidy(() => loss().dataSync()), reps, shapes);
  const gradsOnly = profile(
    () => {
      const { grads } = fullOpt.gradients(loss);
      tf.dispose([...grads.values()]);
    },
    reps,
    shapes,
  );
  const fullStep = profile(() => fullOpt.step(loss, 1e-3), reps, shapes);

  const frozen = createModel(config, weights, () => false);
  const lora = loraOverride(frozen, s.loraRank);
  const loraOpt = new AdamW(lora.params);
  const loraStep = profile(
    () =>
      loraOpt.step(
        () => lmLoss(forward(frozen, input, { override: lora.override }).logits, target, mask),
        1e-3,
      ),
    reps,
    shapes,
  );
  return { shape: s, reps, forwardOnly, gradsOnly, fullStep, loraStep };
}
