import { util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-internals.ts';

type KernelArgs = Parameters<KernelConfig['kernelFunc']>[0];

/**
 * A permutation that swaps two adjacent runs of axes, seen as [batch, rows, cols, inner] ->
 * [batch, cols, rows, inner]: a matrix transpose ([1, 0]), its batched form ([..., r-1, r-2]) and
 * the head split of attention ([0, 2, 1, 3]). Undefined for any other permutation.
 */
export function asSwap(shape: readonly number[], perm: readonly number[]) {
  const r = perm.length;
  let a = 0;
  while (a < r && perm[a] === a) a++;
  let c = r;
  while (c > a && perm[c - 1] === c - 1) c--;
  if (a === c) return undefined;
  const b = perm[a]!; // the second run, [b, c), comes first in the output
  for (let i = 0; i < c - a; i++) {
    const want = i < c - b ? b + i : a + i - (c - b);
    if (perm[a + i] !== want) return undefined;
  }
  const size = (from: number, to: number) => util.sizeFromShape(shape.slice(from, to));
  return { batch: size(0, a), rows: size(a, b), cols: size(b, c), inner: size(c, r) };
}

type Numbers = Float32Array | Int32Array | Uint8Array;

// Cache-blocked: the stock wasm kernel walks the output with a stride of a whole row, which
// misses the cache on every element once a matrix outgrows it (5-9 ms for [1024, 512] against
// 1-2 ms here). On matrices that fit, the stock loop is the faster of the two.
const LARGE = 32 * 1024;

function swapElements(src: Numbers, dst: Numbers, batch: number, rows: number, cols: number) {
  const B = 16;
  for (let n = 0; n < batch; n++) {
    const base = n * rows * cols;
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(j0 + B, cols);
      for (let i0 = 0; i0 < rows; i0 += B) {
        const i1 = Math.min(i0 + B, rows);
        for (let j = j0; j < j1; j++) {
          let d = base + j * rows + i0;
          let from = base + i0 * cols + j;
          for (let i = i0; i < i1; i++, from += cols) dst[d++] = src[from]!;
        }
      }
    }
  }
}

/**
 * `Transpose` for the wasm backend when the permutation swaps two runs of axes (every transpose a
 * GPT-2 step makes) of matrices too large for the cache; the rest goes to the stock kernel.
 *
 * @example
 * registerKernel({ kernelName: 'Transpose', backendName: 'wasm', kernelFunc: (a) => transpose(a, stock) });
 */
export function transpose(args: KernelArgs, stock: KernelConfig | null): TensorInfo {
  const x = (args.inputs as { x?: TensorInfo }).x;
  const perm = (args.attrs as { perm?: number[] } | undefined)?.perm;
  if (!x || !perm) throw new Error('Transpose: missing input');
  const s = x.dtype === 'string' || x.dtype === 'complex64' ? undefined : asSwap(x.shape, perm);
  // With whole rows to move (inner > 1) the stock loop reads and writes runs and stays fast.
  if (!s || s.inner > 1 || s.rows * s.cols < LARGE) {
    if (!stock) throw new Error('no stock Transpose kernel');
    return stock.kernelFunc(args) as TensorInfo;
  }
  const backend = args.backend as WasmBackend;
  // Allocate before taking heap views: a malloc can grow the heap and detach them.
  const out = backend.makeOutput(
    perm.map((p) => x.shape[p]!),
    x.dtype,
  );
  swapElements(
    backend.typedArrayFromHeap(x),
    backend.typedArrayFromHeap(out),
    s.batch,
    s.rows,
    s.cols,
  );
  return out;
}
