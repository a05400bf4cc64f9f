import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { loadGradients, registerWasmKernels } from '../../plugins/model/backend/index.ts';
import * as tf from '../../plugins/model/tf.ts';
import { AdamW } from '../../plugins/model/train/adamw.ts';

// Three steps of AdamW (clipping, decay on the matrix only) on one backend: the parameters after.
async function train(backend: string): Promise<number[][]> {
  await tf.setBackend(backend);
  const w = tf.variable(
    tf.tensor2d([
      [0.5, -1.5, 2],
      [1, 0.25, -3],
    ]),
  );
  const b = tf.variable(tf.tensor1d([0.3, -0.7]));
  const params = new Map<string, tf.Variable>([
    ['w', w],
    ['b', b],
  ]);
  const opt = new AdamW(params, { weightDecay: 0.1, clipNorm: 2 });
  const norms: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { gradNorm } = opt.step(
      () =>
        tf
          .square(
            tf
              .matMul(w, tf.tensor2d([[1], [2], [-1]]))
              .reshape([2])
              .add(b),
          )
          .sum() as tf.Scalar,
      0.05,
    );
    norms.push(gradNorm);
  }
  const out = [
    norms,
    ...[w, b, ...opt.m.values(), ...opt.v.values()].map((t) => Array.from(t.dataSync())),
  ];
  tf.dispose([w, b]);
  opt.dispose();
  return out;
}

describe('AdamW on wasm', () => {
  it('takes the same steps with its one-pass kernels as tfjs ops take on cpu', async () => {
    registerWasmKernels();
    await loadGradients();
    const want = await train('cpu');
    const got = await train('wasm');
    want.forEach((row, i) => row.forEach((x, j) => expect(got[i]![j]!).toBeCloseTo(x, 5)));
  });
});
