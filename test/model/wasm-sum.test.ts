import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmKernels } from '../../plugins/model/backend/index.ts';

beforeAll(async () => {
  registerWasmKernels();
  await tf.setBackend('wasm');
});

const values = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3);

async function sumOn(backend: 'cpu' | 'wasm', shape: number[], axis: number[], keepDims: boolean) {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const s = tf.sum(tf.tensor(values(shape.reduce((a, b) => a * b, 1)), shape), axis, keepDims);
    return { shape: s.shape, data: s.dataSync() };
  });
}

describe('wasm Sum over leading axes', () => {
  it.each([
    [[1024, 128], [0], false],
    [[13, 7], [0], true],
    [[3, 5, 7], [0, 1], false],
    [[3, 5, 7], [1, 0], true],
    [[3, 5, 7], [-3], false],
    [[6, 4], [1], false], // not leading: the stock kernel
    [[6, 4], [0, 1], false], // every axis: the stock kernel
  ])('%j over %j (keepDims %s) matches cpu', async (shape, axis, keepDims) => {
    const want = await sumOn('cpu', shape, axis, keepDims);
    const got = await sumOn('wasm', shape, axis, keepDims);
    expect(got.shape).toEqual(want.shape);
    got.data.forEach((g, i) => expect(g).toBeCloseTo(want.data[i]!, 3));
  });
});
