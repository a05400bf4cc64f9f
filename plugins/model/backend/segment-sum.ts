import { util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-internals.ts';

/**
 * `UnsortedSegmentSum` for the wasm backend, which lacks it: it is the gradient of `gather`, so an
 * embedding lookup cannot train without it. TensorFlow semantics: `segmentIds` is a prefix of `x`'s
 * shape, rows with an id outside [0, numSegments) are dropped, missing segments are zero.
 *
 * @example
 * registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
 */
export function unsortedSegmentSum(args: {
  inputs: { x?: TensorInfo; segmentIds?: TensorInfo };
  backend: unknown;
  attrs: { numSegments?: number };
}): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, segmentIds } = args.inputs;
  const numSegments = args.attrs.numSegments;
  if (!x || !segmentIds || numSegments === undefined)
    throw new Error('UnsortedSegmentSum: missing input');
  const rows = util.sizeFromShape(segmentIds.shape);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = util.sizeFromShape(innerShape);
  // Allocate before taking heap views: a malloc can grow the heap and detach them.
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  const target = backend.typedArrayFromHeap(out);
  const source = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  target.fill(0);
  for (let r = 0; r < rows; r++) {
    const s = ids[r] as number;
    if (s < 0 || s >= numSegments) continue;
    const from = r * inner;
    const to = s * inner;
    for (let j = 0; j < inner; j++) (target[to + j] as number) += source[from + j] as number;
  }
  return out;
}
