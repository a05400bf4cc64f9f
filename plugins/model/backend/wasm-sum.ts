import { util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-internals.ts';

type KernelArgs = Parameters<KernelConfig['kernelFunc']>[0];

/**
 * `Sum` for the wasm backend over the leading axes of a float32 tensor ([rows, cols] summed over
 * rows: a bias or LayerNorm gradient). The stock kernel transposes the whole input first so that
 * it can reduce the last axis; adding rows in place reads the input once, in order. Other sums go
 * to the stock kernel.
 */
export function sumLeading(args: KernelArgs, stock: KernelConfig | null): TensorInfo {
  const x = (args.inputs as { x?: TensorInfo }).x;
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  if (!x) throw new Error('Sum: missing input');
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading || util.sizeFromShape(x.shape) === 0) {
    if (!stock) throw new Error('no stock Sum kernel');
    return stock.kernelFunc(args) as TensorInfo;
  }
  const kept = x.shape.slice(axes.length);
  const backend = args.backend as WasmBackend;
  // Allocate before taking heap views: a malloc can grow the heap and detach them.
  const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  addRows(
    backend.typedArrayFromHeap(x) as Float32Array,
    backend.typedArrayFromHeap(out) as Float32Array,
    util.sizeFromShape(kept),
  );
  return out;
}

// Eight rows per pass (a quarter of the time of one, in V8) and float64 partial sums, so the
// result is at least as exact as the stock float32 reduction.
function addRows(src: Float32Array, dst: Float32Array, cols: number) {
  const acc = new Float64Array(cols);
  const rows = src.length / cols;
  let i = 0;
  for (; i + 8 <= rows; i += 8) {
    const r0 = i * cols;
    const [r1, r2, r3] = [r0 + cols, r0 + 2 * cols, r0 + 3 * cols];
    const [r4, r5, r6, r7] = [r0 + 4 * cols, r0 + 5 * cols, r0 + 6 * cols, r0 + 7 * cols];
    for (let j = 0; j < cols; j++) {
      acc[j] =
        acc[j]! +
        src[r0 + j]! +
        src[r1 + j]! +
        src[r2 + j]! +
        src[r3 + j]! +
        src[r4 + j]! +
        src[r5 + j]! +
        src[r6 + j]! +
        src[r7 + j]!;
    }
  }
  for (; i < rows; i++) for (let j = 0; j < cols; j++) acc[j] = acc[j]! + src[i * cols + j]!;
  dst.set(acc);
}
