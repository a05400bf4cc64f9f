import { broadcast_util, util } from '@tensorflow/tfjs-core';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { dropView, heapId, heapView, runWasmKernel } from './wasm-internals.ts';
import type { WasmBackend } from './wasm-internals.ts';

/** tfjs's fused activations; only the clamps run inside XNNPACK, the rest run as their own kernel. */
export type FusedActivation =
  | 'linear'
  | 'relu'
  | 'relu6'
  | 'prelu'
  | 'leakyrelu'
  | 'sigmoid'
  | 'elu';

// FusableActivation in tfjs-backend-wasm's cc/fusable_activations.h. The C++ product only honours
// the clamps: it silently ignores sigmoid, elu and leakyrelu, so those are applied afterwards here.
const clampCode: Partial<Record<FusedActivation, number>> = { linear: 0, relu: 1, relu6: 2 };

const afterwards: Record<Exclude<FusedActivation, 'linear'>, string> = {
  relu: 'Relu',
  relu6: 'Relu6',
  prelu: 'Prelu',
  leakyrelu: 'LeakyRelu',
  sigmoid: 'Sigmoid',
  elu: 'Elu',
};

type FusedFn = (...args: unknown[]) => void;
const fusedByBackend = new WeakMap<WasmBackend, FusedFn>();

// The exported `_FusedMatMul` is the only C++ entry that takes a bias and a clamp; its fast branch
// (XNNPACK fully-connected) is taken when both operands are [1, rows, k] x [1, k, n], untransposed.
function fusedFn(backend: WasmBackend): FusedFn {
  let fn = fusedByBackend.get(backend);
  if (!fn) {
    const types = ['number', 'array', 'number', 'number', 'array', 'number'];
    fn = backend.wasm.cwrap('_FusedMatMul', null, [...types, ...Array<string>(7).fill('number')]);
    fusedByBackend.set(backend, fn);
  }
  return fn;
}

const shapeBytes = (shape: number[]) => new Uint8Array(new Int32Array(shape).buffer);

/** A matrix product as the kernels receive it: any batch rank, broadcast batch dimensions. */
export interface MatMulArgs {
  a: TensorInfo;
  b: TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  bias?: TensorInfo | undefined;
  activation?: FusedActivation | undefined;
  preluWeights?: TensorInfo | undefined;
  leakyreluAlpha?: number | undefined;
}

/** Whether `fastMatMul` handles these operands; the rest go to the stock kernel. */
export const fastPathApplies = ({ a, b }: MatMulArgs) =>
  a.dtype === 'float32' &&
  b.dtype === 'float32' &&
  a.shape.length >= 2 &&
  b.shape.length >= 2 &&
  util.sizeFromShape(a.shape) > 0 &&
  util.sizeFromShape(b.shape) > 0;

/**
 * A batched, possibly transposed matrix product where every 2-D product runs through XNNPACK:
 * transposed operands are materialised once with the wasm Transpose kernel (O(size), against the
 * O(m·k·n) product), a batch against one shared matrix is one tall product, and any other batch
 * is a loop of products on zero-copy views of each slice.
 *
 * @example
 * const out = fastMatMul(backend, { a, b, transposeA: false, transposeB: true });
 */
export function fastMatMul(backend: WasmBackend, args: MatMulArgs): TensorInfo {
  const temps: TensorInfo[] = [];
  const own = (t: TensorInfo) => (temps.push(t), t);
  try {
    const a = args.transposeA ? own(swapLastTwo(backend, args.a)) : args.a;
    const b = args.transposeB ? own(swapLastTwo(backend, args.b)) : args.b;
    const [m, k] = a.shape.slice(-2) as [number, number];
    const [kb, n] = b.shape.slice(-2) as [number, number];
    util.assert(
      k === kb,
      () => `matMul: inner dimensions ${k} and ${kb} of ${args.a.shape} x ${args.b.shape} differ`,
    );
    const activation = args.activation ?? 'linear';
    const bias = args.bias;
    const biasFused = !bias || (bias.shape.length === 1 && bias.shape[0] === n);
    const clamp = biasFused ? clampCode[activation] : undefined;
    const out = product(
      backend,
      a,
      b,
      m,
      k,
      n,
      biasFused && bias ? heapId(backend, bias) : 0,
      clamp ?? 0,
    );
    return finish(backend, out, args, biasFused, clamp !== undefined, own);
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

function product(
  backend: WasmBackend,
  a: TensorInfo,
  b: TensorInfo,
  m: number,
  k: number,
  n: number,
  biasId: number,
  clamp: number,
): TensorInfo {
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const outBatch = broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const out = backend.makeOutput([...outBatch, m, n], 'float32');
  const fused = fusedFn(backend);
  const run = (aId: number, rows: number, bId: number, outId: number) =>
    fused(
      aId,
      shapeBytes([1, rows, k]),
      3,
      bId,
      shapeBytes([1, k, n]),
      3,
      0,
      0,
      clamp,
      biasId,
      0,
      0,
      outId,
    );
  const sizeA = util.sizeFromShape(batchA);
  if (util.sizeFromShape(batchB) === 1) {
    // One shared right-hand matrix (a weight): stack the batch into one tall product. Real ids here
    // let XNNPACK keep the packed weights cached on `b` across calls.
    run(heapId(backend, a), sizeA * m, heapId(backend, b), heapId(backend, out));
    return out;
  }
  const offset = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
  const [aBase, bBase, outBase] = [offset(a), offset(b), offset(out)];
  const outSize = util.sizeFromShape(outBatch);
  const aWhole = sizeA === 1 ? heapId(backend, a) : 0;
  for (let i = 0; i < outSize; i++) {
    const ai =
      aWhole || heapView(backend, aBase + 4 * m * k * sourceIndex(i, outBatch, batchA), m * k);
    const bi = heapView(backend, bBase + 4 * k * n * sourceIndex(i, outBatch, batchB), k * n);
    const oi = heapView(backend, outBase + 4 * m * n * i, m * n);
    run(ai, m, bi, oi);
    if (!aWhole) dropView(backend, ai);
    dropView(backend, bi);
    dropView(backend, oi);
  }
  return out;
}

/** The flat batch index in an operand of batch shape `from` that output batch `i` reads. */
function sourceIndex(i: number, outBatch: number[], from: number[]): number {
  if (from.length === outBatch.length && from.every((d, j) => d === outBatch[j])) return i;
  let index = 0;
  let stride = 1;
  for (let j = outBatch.length - 1, f = from.length - 1; j >= 0; j--, f--) {
    const size = outBatch[j] as number;
    const coord = i % size;
    i = Math.floor(i / size);
    if (f < 0) continue;
    const dim = from[f] as number;
    if (dim !== 1) index += coord * stride;
    stride *= dim;
  }
  return index;
}

function swapLastTwo(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [r - 1, r - 2];
  return runWasmKernel(backend, 'Transpose', { x }, { perm });
}

// Adds a bias XNNPACK could not take and applies an activation it could not clamp to.
function finish(
  backend: WasmBackend,
  out: TensorInfo,
  args: MatMulArgs,
  biasFused: boolean,
  activationFused: boolean,
  own: (t: TensorInfo) => TensorInfo,
): TensorInfo {
  let result = out;
  if (!biasFused && args.bias) {
    own(result);
    result = runWasmKernel(backend, 'Add', { a: result, b: args.bias });
  }
  const activation = args.activation ?? 'linear';
  if (activationFused || activation === 'linear') return result;
  const inputs: Record<string, TensorInfo> = { x: own(result) };
  const attrs: NamedAttrMap = {};
  if (activation === 'prelu') {
    if (!args.preluWeights) throw new Error('prelu activation needs preluActivationWeights');
    inputs.alpha = args.preluWeights;
  }
  if (activation === 'leakyrelu') attrs.alpha = args.leakyreluAlpha ?? 0.2;
  return runWasmKernel(backend, afterwards[activation], inputs, attrs);
}
