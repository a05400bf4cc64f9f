import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../plugins/model/tf.ts';
import { AdamW, warmupCosine } from '../../plugins/model/train/adamw.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('AdamW', () => {
  it('takes the textbook first step: lr * sign(g) (plus decoupled decay on matrices only)', () => {
    const w = tf.variable(tf.tensor2d([[1, -2]]));
    const b = tf.variable(tf.tensor1d([3]));
    const opt = new AdamW(
      new Map<string, tf.Variable>([
        ['w', w],
        ['b', b],
      ]),
      { weightDecay: 0.1, clipNorm: 0 },
    );
    // loss = 2 w0 - 3 w1 + 5 b  ->  g = (2, -3), (5)
    opt.step(
      () =>
        w
          .mul(tf.tensor2d([[2, -3]]))
          .sum()
          .add(b.mul(5).sum()) as tf.Scalar,
      0.01,
    );
    // m_hat / (sqrt(v_hat) + eps) = sign(g) on the first step; decay adds 0.1 * w for matrices.
    const [w0, w1] = w.dataSync();
    expect(w0).toBeCloseTo(1 - 0.01 * (1 + 0.1 * 1), 6);
    expect(w1).toBeCloseTo(-2 - 0.01 * (-1 + 0.1 * -2), 6);
    expect(b.dataSync()[0]).toBeCloseTo(3 - 0.01, 6);
  });

  it('clips the global gradient norm, reports it unclipped, and saves and restores its state', () => {
    const w = tf.variable(tf.tensor1d([0, 0]));
    const params = new Map([['w', w]]);
    const opt = new AdamW(params, { clipNorm: 1, weightDecay: 0 });
    const loss = () => w.mul(tf.tensor1d([30, 40])).sum() as tf.Scalar;
    const { gradNorm } = opt.step(loss, 0.1);
    expect(gradNorm).toBeCloseTo(50, 4);
    const state = opt.state();
    const wt = tf.variable(w.clone());
    const twin = new AdamW(new Map([['w', wt]]), { clipNorm: 1, weightDecay: 0 });
    twin.restore(state);
    opt.step(loss, 0.1);
    twin.step(() => wt.mul(tf.tensor1d([30, 40])).sum() as tf.Scalar, 0.1);
    expect(twin.t).toBe(2);
    expect(wt.dataSync()).toEqual(w.dataSync());
    expect(twin.v.get('w')!.dataSync()).toEqual(opt.v.get('w')!.dataSync());
  });
});

describe('warmupCosine', () => {
  it('warms up linearly, then decays by a cosine to the floor', () => {
    const s = { peak: 1, warmup: 10, total: 110, floor: 0.1 };
    expect(warmupCosine(0, s)).toBeCloseTo(0.1);
    expect(warmupCosine(9, s)).toBeCloseTo(1);
    expect(warmupCosine(60, s)).toBeCloseTo(0.55);
    expect(warmupCosine(110, s)).toBeCloseTo(0.1);
    expect(warmupCosine(500, s)).toBeCloseTo(0.1);
  });
});
