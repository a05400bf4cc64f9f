import { backend_util, slice_util, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-internals.ts';

type KernelArgs = Parameters<KernelConfig['kernelFunc']>[0];
type Numbers = Float32Array | Int32Array | Uint8Array;

// The stock wasm Slice starts with `readSync`, a copy of its whole input into a new ArrayBuffer,
// and then copies each row with `subarray` + `set`: splitting attention's [1024, 384] projection
// into q, k and v took 10 ms. Here the slice is read straight from the heap.
function copySlice(
  src: Numbers,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: Numbers,
) {
  const strides = util.computeStrides([...shape]);
  const stride = (d: number) => (d === shape.length - 1 ? 1 : strides[d]!);
  // The innermost contiguous run: trailing whole axes and the partial axis before them.
  let d = shape.length - 1;
  let run = 1;
  while (d >= 0 && size[d] === shape[d]) run *= shape[d--]!;
  let from = 0;
  if (d >= 0) run *= size[d]!;
  for (let i = 0; i <= d; i++) from += begin[i]! * stride(i);
  const outer = size.slice(0, Math.max(0, d));
  const count = util.sizeFromShape(outer);
  const index = outer.map(() => 0);
  let to = 0;
  for (let n = 0; n < count; n++) {
    let at = from;
    for (let i = 0; i < outer.length; i++) at += index[i]! * stride(i);
    if (run >= 64) dst.set(src.subarray(at, at + run), to);
    else for (let k = 0; k < run; k++) dst[to + k] = src[at + k]!;
    to += run;
    for (let i = outer.length - 1; i >= 0 && ++index[i]! === outer[i]; i--) index[i] = 0;
  }
}

function sliceOne(backend: WasmBackend, x: TensorInfo, begin: number[], size: number[]) {
  const out = backend.makeOutput(size, x.dtype);
  if (util.sizeFromShape(size) === 0) return out;
  // Views after the allocation: a malloc can grow the heap and detach earlier ones.
  copySlice(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

const numeric = (x: TensorInfo) => x.dtype !== 'string' && x.dtype !== 'complex64';

/** `Slice` for the wasm backend, reading the heap in place; strings go to the stock kernel. */
export function slice(args: KernelArgs, stock: KernelConfig | null): TensorInfo {
  const x = (args.inputs as { x?: TensorInfo }).x;
  if (!x) throw new Error('Slice: missing input');
  if (!numeric(x)) return stock!.kernelFunc(args) as TensorInfo;
  const attrs = args.attrs as { begin: number | number[]; size?: number | number[] };
  const [begin, size] = slice_util.parseSliceParams(x as never, attrs.begin, attrs.size);
  return sliceOne(args.backend as WasmBackend, x, begin!, size!);
}

/** `SplitV` (tf.split) for the wasm backend: one in-place slice per part. */
export function splitV(args: KernelArgs, stock: KernelConfig | null): TensorInfo[] {
  const x = (args.inputs as { x?: TensorInfo }).x;
  if (!x) throw new Error('SplitV: missing input');
  if (!numeric(x)) return stock!.kernelFunc(args) as TensorInfo[];
  const attrs = args.attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
  const axis = util.parseAxisParam(attrs.axis, x.shape)[0]!;
  const sizes = backend_util.prepareSplitSize(x as never, attrs.numOrSizeSplits, axis);
  const begin = x.shape.map(() => 0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[axis] = s;
    const part = sliceOne(args.backend as WasmBackend, x, [...begin], size);
    begin[axis]! += s;
    return part;
  });
}
