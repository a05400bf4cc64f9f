import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGradients, registerWasmKernels } from '../../plugins/model/backend/index.ts';
import { asSwap } from '../../plugins/model/backend/wasm-transpose.ts';

beforeAll(async () => {
  registerWasmKernels();
  await loadGradients();
  await tf.setBackend('wasm');
});

async function onBoth(f: () => tf.Tensor): Promise<[number[], number[]]> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => Array.from(f().dataSync()));
  };
  return [await run('cpu'), await run('wasm')];
}

const iota = (shape: number[], dtype: 'float32' | 'int32' = 'float32') =>
  tf.tensor(
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
    shape,
    dtype,
  );

describe('wasm Transpose override', () => {
  it('sees matrix, batched and head-split permutations as one swap, and nothing else', () => {
    expect(asSwap([5, 7], [1, 0])).toEqual({ batch: 1, rows: 5, cols: 7, inner: 1 });
    expect(asSwap([2, 3, 5, 7], [0, 1, 3, 2])).toEqual({ batch: 6, rows: 5, cols: 7, inner: 1 });
    expect(asSwap([2, 3, 5, 7], [0, 2, 1, 3])).toEqual({ batch: 2, rows: 3, cols: 5, inner: 7 });
    expect(asSwap([2, 3, 5, 7], [2, 3, 0, 1])).toEqual({ batch: 1, rows: 6, cols: 35, inner: 1 });
    expect(asSwap([2, 3, 5, 7], [3, 1, 2, 0])).toBeUndefined();
    expect(asSwap([2, 3], [0, 1])).toBeUndefined();
  });

  it.each([
    [
      [300, 200],
      [1, 0],
    ],
    [
      [2, 130, 257],
      [0, 2, 1],
    ],
    [
      [2, 200, 30, 7],
      [0, 2, 1, 3],
    ],
    [
      [40, 30, 50],
      [1, 2, 0],
    ],
    [
      [40, 30, 50],
      [2, 1, 0],
    ],
  ])('matches cpu for %j by %j, float32 and int32', async (shape, perm) => {
    for (const dtype of ['float32', 'int32'] as const) {
      const [want, got] = await onBoth(() => tf.transpose(iota(shape, dtype), perm));
      expect(got).toEqual(want);
    }
  });
});

describe('wasm Slice and SplitV overrides', () => {
  it.each([
    [
      [7, 300],
      [2, 0],
      [3, 300],
    ],
    [
      [7, 300],
      [0, 128],
      [7, 100],
    ],
    [
      [2, 5, 4, 30],
      [1, 1, 0, 3],
      [1, 3, 4, 20],
    ],
    [
      [2, 5, 4, 30],
      [0, 2, 1, 0],
      [2, 2, 2, 30],
    ],
    [
      [4, 3, 2, 2, 3],
      [1, 0, 1, 0, 1],
      [2, 3, 1, 2, 1],
    ],
    [[6], [2], [-1]],
  ])('slice of %j from %j by %j matches cpu, float32 and int32', async (shape, begin, size) => {
    for (const dtype of ['float32', 'int32'] as const) {
      const [want, got] = await onBoth(() => tf.slice(iota(shape, dtype), begin, size));
      expect(got).toEqual(want);
    }
  });

  it('split matches cpu along every axis, with sizes and with a count', async () => {
    for (const axis of [0, 1, 2]) {
      const [want, got] = await onBoth(() =>
        tf.concat(
          tf.split(iota([6, 4, 9]), axis === 2 ? [2, 3, 4] : 2, axis).map((t) => t.reshape([-1])),
        ),
      );
      expect(got).toEqual(want);
    }
  });
});

describe('wasm matMul, transposed left operand larger than the rest', () => {
  it('computes a^T b as (b^T a)^T for batches, as cpu computes a^T b', async () => {
    const a = () => iota([4, 16, 16]).div(100);
    const b = () => iota([4, 16, 3]).div(50).sub(1);
    const [want, got] = await onBoth(() => tf.matMul(a(), b(), true, false));
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 3));
  });
});

describe('wasm GatherV2 override', () => {
  it('gathers rows as cpu does, and refuses an index out of range', async () => {
    const ids = () =>
      tf.tensor2d(
        [
          [3, 0, 3],
          [1, 2, 0],
        ],
        undefined,
        'int32',
      );
    for (const dtype of ['float32', 'int32'] as const) {
      const [want, got] = await onBoth(() => tf.gather(iota([4, 5, 3], dtype), ids()));
      expect(got).toEqual(want);
    }
    const [want, got] = await onBoth(() => tf.gather(iota([4, 5]), ids(), 1));
    expect(got).toEqual(want);
    await tf.setBackend('wasm');
    expect(() => tf.gather(iota([4, 5]), tf.tensor1d([4], 'int32'))).toThrow(/not in \[0, 3\]/);
  });
});

describe('wasm Identity and Cast overrides', () => {
  it('share data for the same dtype, copy and convert otherwise, and leak nothing', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([1.5, -2.5, 3], [3]);
    const before = [tf.memory().numTensors, tf.engine().backend.numDataIds()];
    const same = tf.cast(x, 'float32');
    const copy = tf.clone(x);
    const ints = tf.cast(x, 'int32');
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.5, 3]);
    expect(Array.from(copy.dataSync())).toEqual([1.5, -2.5, 3]);
    expect(Array.from(ints.dataSync())).toEqual([1, -2, 3]);
    x.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.5, 3]);
    tf.dispose([same, copy, ints]);
    expect([tf.memory().numTensors, tf.engine().backend.numDataIds()]).toEqual([
      before[0]! - 1,
      before[1]! - 1,
    ]);
  });

  it('keep a variable and a tensor saved for its gradient apart when the variable changes', async () => {
    await tf.setBackend('wasm');
    const v = tf.variable(tf.tensor([1, 2, 3]));
    const saved = tf.clone(v);
    v.assign(tf.tensor([7, 8, 9]));
    expect(Array.from(saved.dataSync())).toEqual([1, 2, 3]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(v);
    expect(Array.from(g.dataSync())).toEqual([14, 16, 18]);
    tf.dispose([v, saved, g]);
  });
});
