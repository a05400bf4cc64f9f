import { getKernel } from '@tensorflow/tfjs-core';
import type { DataId, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The parts of tfjs-backend-wasm's `BackendWasm` that the kernels here use. Declared structurally
 * because the class marks some of them private; they have been stable since 2.x, and the kernel
 * tests fail loudly if a release moves them.
 */
export interface WasmBackend {
  wasm: {
    cwrap: (name: string, ret: null, args: string[]) => (...args: unknown[]) => void;
    HEAPU8: Uint8Array;
    tfjs: {
      registerTensor: (id: number, size: number, memoryOffset: number) => void;
      disposeData: (id: number) => void;
    };
  };
  dataIdNextNumber: number;
  dataIdMap: { get: (dataId: DataId) => { id: number; memoryOffset: number } };
  makeOutput: (shape: number[], dtype: TensorInfo['dtype']) => TensorInfo;
  disposeData: (dataId: DataId) => boolean;
  incRef: (dataId: DataId) => void;
  typedArrayFromHeap: (t: TensorInfo) => Float32Array | Int32Array | Uint8Array;
}

/** The wasm heap id of a tensor: what the C++ kernels take. */
export const heapId = (backend: WasmBackend, t: TensorInfo) => backend.dataIdMap.get(t.dataId).id;

/**
 * Registers `size` elements at byte `offset` of the heap as a tensor of its own and returns its id,
 * so a C++ kernel can read or write a slice of a larger tensor without a copy. The caller must
 * `dropView` it: disposing the id also drops the XNNPACK operator cached on it.
 */
export function heapView(backend: WasmBackend, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

export const dropView = (backend: WasmBackend, id: number) => backend.wasm.tfjs.disposeData(id);

/** Runs another wasm kernel (Transpose, Add, Sigmoid...) from inside a kernel, as tfjs does. */
export function runWasmKernel(
  backend: WasmBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const kernel = getKernel(kernelName, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${kernelName} is not registered`);
  return kernel.kernelFunc({ inputs, attrs, backend: backend as never }) as TensorInfo;
}
