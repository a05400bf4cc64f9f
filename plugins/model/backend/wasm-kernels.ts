import {
  BatchMatMul,
  _FusedMatMul,
  getKernel,
  registerKernel,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { unsortedSegmentSum } from './segment-sum.ts';
import { ADAMW_UPDATE, SUM_OF_SQUARES, adamWUpdate, sumOfSquares } from './wasm-adamw.ts';
import { gatherRows } from './wasm-gather.ts';
import { shareData } from './wasm-share.ts';
import { slice, splitV } from './wasm-slice.ts';
import { sumLeading } from './wasm-sum.ts';
import { transpose } from './wasm-transpose.ts';
import { fastMatMul, fastPathApplies } from './wasm-matmul.ts';
import type { FusedActivation, MatMulArgs } from './wasm-matmul.ts';
import type { WasmBackend } from './wasm-internals.ts';

// Marks our kernels and keeps the stock one they replaced. A registry-wide symbol, not module
// state, because the kernel registry is global and may outlive a module instance (test isolation).
const STOCK = Symbol.for('heldout.wasm.stockKernel');
type Ours = KernelFunc & { [STOCK]?: KernelConfig | null };

type KernelArgs = Parameters<KernelFunc>[0];

function matMulArgs({ inputs, attrs }: KernelArgs): MatMulArgs {
  const t = inputs as Record<string, TensorInfo | undefined>;
  if (!t.a || !t.b) throw new Error('matMul: missing operand');
  return {
    a: t.a,
    b: t.b,
    transposeA: Boolean(attrs?.transposeA),
    transposeB: Boolean(attrs?.transposeB),
    bias: t.bias ?? undefined,
    preluWeights: t.preluActivationWeights ?? undefined,
    activation: (attrs?.activation as FusedActivation | undefined) ?? 'linear',
    leakyreluAlpha: attrs?.leakyreluAlpha as number | undefined,
  };
}

const matMulKernel = (args: KernelArgs, stock: KernelConfig | null) => {
  const m = matMulArgs(args);
  if (!fastPathApplies(m) && stock) return stock.kernelFunc(args);
  return fastMatMul(args.backend as WasmBackend, m);
};

/** The kernels registered for the wasm backend, by kernel name. */
export const wasmKernelOverrides = {
  [BatchMatMul]: matMulKernel,
  [_FusedMatMul]: matMulKernel,
  UnsortedSegmentSum: (args: KernelArgs) => unsortedSegmentSum(args as never),
  Identity: shareData,
  Cast: shareData,
  Transpose: transpose,
  Slice: slice,
  SplitV: splitV,
  Sum: sumLeading,
  GatherV2: gatherRows,
  [ADAMW_UPDATE]: adamWUpdate,
  [SUM_OF_SQUARES]: sumOfSquares,
} satisfies Record<
  string,
  (args: KernelArgs, stock: KernelConfig | null) => TensorInfo | TensorInfo[]
>;

/**
 * Replaces the wasm backend's matrix products with ones that run every batched and transposed
 * shape through XNNPACK (the stock kernels send those to a scalar loop, about 5x slower per training
 * step), adds the kernels gradients need that wasm lacks (`UnsortedSegmentSum`), makes `Identity`
 * and same-dtype `Cast` share data instead of copying it, transposes large matrices cache-blocked,
 * slices without first copying the whole input, sums over leading axes without a transpose, gathers whole rows with row copies, and adds
 * one-pass AdamW kernels (train/adamw.ts uses them when registered).
 * Idempotent; works before or after the backend is initialised. Returns the kernel names it
 * registered.
 *
 * @example
 * await import('@tensorflow/tfjs-backend-wasm');
 * registerWasmKernels(); // ['BatchMatMul', '_FusedMatMul', 'UnsortedSegmentSum', 'Identity', ...]
 * await tf.setBackend('wasm');
 */
export function registerWasmKernels(): string[] {
  for (const [kernelName, impl] of Object.entries(wasmKernelOverrides)) {
    const current = getKernel(kernelName, 'wasm');
    if ((current?.kernelFunc as Ours | undefined)?.[STOCK] !== undefined) continue;
    const stock = current ?? null;
    const kernelFunc: Ours = (args) => impl(args, stock);
    kernelFunc[STOCK] = stock;
    if (current) unregisterKernel(kernelName, 'wasm');
    // The stock setup (its cwrap) must still run if the backend initialises after this.
    registerKernel({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: stock?.setupFunc });
  }
  return Object.keys(wasmKernelOverrides);
}

/**
 * Puts the stock wasm kernels back (and removes the added ones): for measuring the difference.
 *
 * @example
 * restoreWasmKernels(); const slow = time(step); registerWasmKernels(); const fast = time(step);
 */
export function restoreWasmKernels(): void {
  for (const kernelName of Object.keys(wasmKernelOverrides)) {
    const stock = (getKernel(kernelName, 'wasm')?.kernelFunc as Ours | undefined)?.[STOCK];
    if (stock === undefined) continue;
    unregisterKernel(kernelName, 'wasm');
    if (stock) registerKernel(stock);
  }
}
