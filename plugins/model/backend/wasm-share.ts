import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-internals.ts';

type KernelArgs = Parameters<KernelConfig['kernelFunc']>[0];

/**
 * `Identity`, and `Cast` to the dtype a tensor already has, as a second reference to the same
 * data, as the cpu backend does; the stock wasm kernels copy. tfjs clones every tensor it saves
 * for the backward pass (and casts every gradient that flows back through such a clone), so a
 * training step made about 500 full copies. Tensors are immutable, so sharing is safe.
 */
export function shareData(args: KernelArgs, stock: KernelConfig | null): TensorInfo {
  const x = (args.inputs as { x?: TensorInfo }).x;
  const dtype = (args.attrs as { dtype?: string } | undefined)?.dtype ?? x?.dtype;
  if (!x || x.dtype !== dtype || x.dtype === 'string' || x.dtype === 'complex64') {
    if (!stock) throw new Error('no stock kernel to copy with');
    return stock.kernelFunc(args) as TensorInfo;
  }
  (args.backend as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
