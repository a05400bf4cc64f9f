import { util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-internals.ts';
import { shareData } from './wasm-share.ts';

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
// 0.4 ms here). On matrices that fit, the stock loop is the faster of the two.
const LARGE = 16 * 1024;
const BLOCK = 64;

function swapElements(src: Numbers, dst: Numbers, batch: number, rows: number, cols: number) {
  for (let n = 0; n < batch; n++) {
    const base = n * rows * cols;
    for (let i0 = 0; i0 < rows; i0 += BLOCK) {
      const i1 = Math.min(i0 + BLOCK, rows);
      for (let j0 = 0; j0 < cols; j0 += BLOCK) {
        const j1 = Math.min(j0 + BLOCK, cols);
        let i = i0;
        for (; i + 8 <= i1; i += 8) swapEight(src, dst, base, rows, cols, i, j0, j1);
        for (; i < i1; i++) {
          for (let j = j0, from = base + i * cols + j0; j < j1; j++)
            dst[base + j * rows + i] = src[from++]!;
        }
      }
    }
  }
}

// Eight source rows at a time, so each output row gets a run of eight adjacent writes: 3x faster
// than one element per output row, which V8 cannot vectorise either way.
function swapEight(
  src: Numbers,
  dst: Numbers,
  base: number,
  rows: number,
  cols: number,
  i: number,
  j0: number,
  j1: number,
) {
  const r0 = base + i * cols;
  const [r1, r2, r3] = [r0 + cols, r0 + 2 * cols, r0 + 3 * cols];
  const [r4, r5, r6, r7] = [r0 + 4 * cols, r0 + 5 * cols, r0 + 6 * cols, r0 + 7 * cols];
  for (let j = j0; j < j1; j++) {
    const d = base + j * rows + i;
    dst[d] = src[r0 + j]!;
    dst[d + 1] = src[r1 + j]!;
    dst[d + 2] = src[r2 + j]!;
    dst[d + 3] = src[r3 + j]!;
    dst[d + 4] = src[r4 + j]!;
    dst[d + 5] = src[r5 + j]!;
    dst[d + 6] = src[r6 + j]!;
    dst[d + 7] = src[r7 + j]!;
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
  // The identity permutation (tfjs's gradients make some) shares data as Identity does.
  if (perm.every((p, i) => p === i)) return shareData(args, stock);
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
