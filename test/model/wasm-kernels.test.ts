import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadGradients,
  registerWasmKernels,
  restoreWasmKernels,
  type FusedActivation,
} from '../../plugins/model/backend/index.ts';

beforeAll(async () => {
  registerWasmKernels();
  await loadGradients();
  await tf.setBackend('wasm');
});

let seed = 7;
const random = (shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from(
    { length: n },
    () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1,
  );
};

/** Runs `f` on one backend with the same input values and returns every output's values. */
async function on(
  backend: 'cpu' | 'wasm',
  f: () => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => [f()].flat().map((t) => t.dataSync() as Float32Array));
}

async function expectSameAsCpu(f: () => tf.Tensor | tf.Tensor[]) {
  const want = await on('cpu', f);
  const got = await on('wasm', f);
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => {
    const g = got[i] as Float32Array;
    expect(g.length).toBe(w.length);
    const scale = Math.max(1e-6, ...w.map(Math.abs));
    const worst = Math.max(0, ...g.map((v, j) => Math.abs(v - (w[j] as number))));
    expect(worst / scale).toBeLessThan(1e-4);
  });
}

const shapes: [string, number[], number[], boolean, boolean][] = [
  ['2-D', [33, 17], [17, 9], false, false],
  ['2-D transposeB', [33, 17], [9, 17], false, true],
  ['2-D transposeA', [17, 33], [17, 9], true, false],
  ['2-D both transposed', [17, 33], [9, 17], true, true],
  ['batched', [4, 16, 8], [4, 8, 12], false, false],
  ['batched attention scores', [6, 16, 8], [6, 16, 8], false, true],
  ['batched transposeA', [3, 8, 16], [3, 8, 12], true, false],
  ['rank 4', [2, 3, 5, 4], [2, 3, 4, 6], false, false],
  ['broadcast weight', [4, 16, 8], [8, 12], false, false],
  ['broadcast weight transposeB', [2, 2, 16, 8], [1, 12, 8], false, true],
  ['broadcast left', [16, 8], [5, 8, 12], false, false],
];
// tfjs-core's BatchMatMul gradient does not reduce broadcast batch dimensions (on any backend).
const unbroadcast = shapes.filter(
  ([, a, b]) => a.length === b.length && a.slice(0, -2).join() === b.slice(0, -2).join(),
);

describe('wasm matMul overrides match the cpu backend', () => {
  it.each(shapes)('%s', async (_, aShape, bShape, tA, tB) => {
    const [a, b] = [random(aShape), random(bShape)];
    await expectSameAsCpu(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), tA, tB));
  });

  it('broadcast on both sides (the cpu kernel gets this wrong, so compare with tiled operands)', async () => {
    const [a, b] = [random([2, 1, 5, 4]), random([1, 3, 4, 6])];
    await tf.setBackend('cpu');
    const want = tf.tidy(() =>
      tf
        .matMul(
          tf.tile(tf.tensor(a, [2, 1, 5, 4]), [1, 3, 1, 1]),
          tf.tile(tf.tensor(b, [1, 3, 4, 6]), [2, 1, 1, 1]),
        )
        .arraySync(),
    );
    const [got] = await on('wasm', () =>
      tf.matMul(tf.tensor(a, [2, 1, 5, 4]), tf.tensor(b, [1, 3, 4, 6])),
    );
    expect(Array.from(got as Float32Array)).toEqual(
      (want as number[][][][]).flat(3).map((v) => expect.closeTo(v, 5)),
    );
  });

  it.each(unbroadcast)('%s: gradients', async (_, aShape, bShape, tA, tB) => {
    const [a, b] = [random(aShape), random(bShape)];
    const outShape = tf.tidy(() => tf.matMul(tf.zeros(aShape), tf.zeros(bShape), tA, tB).shape);
    const w = random(outShape);
    await expectSameAsCpu(() =>
      tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(tf.matMul(x, y, tA, tB), tf.tensor(w, outShape))),
      )([tf.tensor(a, aShape), tf.tensor(b, bShape)]),
    );
  });

  const fused: [FusedActivation, number[] | null][] = [
    ['linear', [9]],
    ['relu', [9]],
    ['relu6', null],
    ['elu', [9]],
    ['sigmoid', [1]],
    ['leakyrelu', [33, 9]],
  ];
  it.each(fused)('fused matMul, %s activation, bias %j', async (activation, biasShape) => {
    const [a, b] = [random([33, 17]), random([9, 17])];
    const bias = biasShape && random(biasShape);
    for (const tA of [false, true]) {
      await expectSameAsCpu(() =>
        tf.fused.matMul({
          a: tA ? tf.transpose(tf.tensor(a, [33, 17])) : tf.tensor(a, [33, 17]),
          b: tf.tensor(b, [9, 17]),
          transposeA: tA,
          transposeB: true,
          bias: bias && biasShape ? tf.tensor(bias, biasShape) : undefined,
          activation,
          leakyreluAlpha: 0.1,
        }),
      );
    }
  });

  it('fused matMul with bias and relu: gradients', async () => {
    const [a, b, bias] = [random([4, 16, 8]), random([4, 8, 12]), random([12])];
    await expectSameAsCpu(() =>
      tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.fused.matMul({
              a: x as tf.Tensor3D,
              b: y as tf.Tensor3D,
              bias: z,
              activation: 'relu',
            }),
          ),
        ),
      )([tf.tensor(a, [4, 16, 8]), tf.tensor(b, [4, 8, 12]), tf.tensor(bias, [12])]),
    );
  });

  it('leaks no tensor and no heap registration', async () => {
    await tf.setBackend('wasm');
    const a = tf.tensor(random([6, 16, 8]), [6, 16, 8]);
    const before = [tf.memory().numTensors, tf.engine().backend.numDataIds()];
    tf.matMul(a, a, true, false).dispose();
    tf.fused
      .matMul({ a: a as tf.Tensor3D, b: a as tf.Tensor3D, transposeB: true, activation: 'sigmoid' })
      .dispose();
    expect([tf.memory().numTensors, tf.engine().backend.numDataIds()]).toEqual(before);
    a.dispose();
  });

  it('can be restored and registered again', () => {
    const ours = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
    restoreWasmKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).not.toBe(ours);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    registerWasmKernels();
    registerWasmKernels();
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
  });
});

describe('kernels wasm lacks', () => {
  it('UnsortedSegmentSum matches cpu, dropping out-of-range ids', async () => {
    const x = random([6, 3, 2]);
    const ids = [0, 2, 2, -1, 4, 0];
    await expectSameAsCpu(() =>
      tf.unsortedSegmentSum(tf.tensor(x, [6, 3, 2]), tf.tensor1d(ids, 'int32'), 4),
    );
    await expectSameAsCpu(() =>
      tf.cast(
        tf.unsortedSegmentSum(
          tf.tensor([1, 2, 3, 4], [4], 'int32'),
          tf.tensor1d([1, 1, 0, 1], 'int32'),
          2,
        ),
        'float32',
      ),
    );
  });

  it('a GPT-2-shaped loss has the same gradients on wasm as on cpu', async () => {
    const [V, T, D] = [13, 6, 8];
    const wte = random([V, D]);
    const wfc = random([D, 4 * D]);
    const bfc = random([4 * D]);
    const ids = [1, 5, 5, 7, 12, 0];
    const targets = [5, 5, 7, 12, 0, 3];
    const layerNorm = (x: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
    };
    const gelu = (x: tf.Tensor) =>
      tf.mul(
        tf.mul(x, 0.5),
        tf.add(
          1,
          tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))),
        ),
      );
    await expectSameAsCpu(() =>
      tf.grads((e: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
        const x = layerNorm(tf.gather(e, tf.tensor1d(ids, 'int32')));
        const q = tf.reshape(x, [2, T, D / 2]);
        const att = tf.softmax(tf.matMul(q, q, false, true));
        const h = tf.add(
          x,
          tf.matMul(
            gelu(tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b })),
            w,
            false,
            true,
          ),
        );
        const mixed = tf.add(h, tf.reshape(tf.matMul(att, q), [T, D]));
        const logits = tf.matMul(layerNorm(mixed), e, false, true);
        return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(targets, 'int32'), V), logits);
      })([tf.tensor(wte, [V, D]), tf.tensor(wfc, [D, 4 * D]), tf.tensor(bfc, [4 * D])]),
    );
  });
});
