import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-internals.ts';

type KernelArgs = Parameters<KernelConfig['kernelFunc']>[0];

/** The kernel names an optimizer may look up for the current backend. */
export const ADAMW_UPDATE = 'HeldoutAdamWUpdate';
export const SUM_OF_SQUARES = 'HeldoutSumOfSquares';

/** AdamW's constants for one step; `c1`, `c2` are the bias corrections 1 - beta^t. */
export interface AdamWAttrs {
  beta1: number;
  beta2: number;
  c1: number;
  c2: number;
  epsilon: number;
  lr: number;
  /** Weight decay for this parameter (0: none). */
  decay: number;
  /** The gradient's clipping factor. */
  scale: number;
}

/**
 * One AdamW update of a parameter in one pass: inputs p, m, v, g; outputs the new p, m and v. Made
 * of tfjs ops the update is 17 kernels per parameter, which made it a third of the kernel calls of
 * a training step, each with its engine bookkeeping; the arithmetic itself is a few milliseconds.
 */
export function adamWUpdate(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { p, m, v, g } = args.inputs as Record<'p' | 'm' | 'v' | 'g', TensorInfo>;
  const a = args.attrs as unknown as AdamWAttrs;
  // Allocate before taking heap views: a malloc can grow the heap and detach them.
  const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  const [P, M, V, G] = [p, m, v, g].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const [P1, M1, V1] = outs.map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const { beta1, beta2, epsilon, lr, decay, scale } = a;
  const k1 = 1 / a.c1;
  const k2 = 1 / a.c2;
  for (let i = 0; i < P!.length; i++) {
    const gi = G![i]! * scale;
    const mi = beta1 * M![i]! + (1 - beta1) * gi;
    const vi = beta2 * V![i]! + (1 - beta2) * gi * gi;
    M1![i] = mi;
    V1![i] = vi;
    P1![i] = P![i]! - lr * ((mi * k1) / (Math.sqrt(vi * k2) + epsilon) + decay * P![i]!);
  }
  return outs;
}

/** The sum of the squares of every input (any number of them), as a float32 scalar. */
export function sumOfSquares(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const out = backend.makeOutput([], 'float32');
  let sum = 0;
  for (const t of Object.values(args.inputs as Record<string, TensorInfo>)) {
    const x = backend.typedArrayFromHeap(t);
    for (let i = 0; i < x.length; i++) sum += x[i]! * x[i]!;
  }
  (backend.typedArrayFromHeap(out) as Float32Array)[0] = sum;
  return out;
}
