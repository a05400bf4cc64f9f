export { cpuDevice, gpuDevice } from './device.ts';
export {
  cudaVisibleDevices,
  gpuUsage,
  listGpus,
  nvidiaSmiArgs,
  parseNvidiaSmi,
  visibleGpus,
} from './gpus.ts';
export type { GpuInfo, GpuUsage } from './gpus.ts';
export { loadGradients } from './gradients.ts';
export { BackendSelectionError, backendNames, parseBackendName } from './names.ts';
export type { BackendName } from './names.ts';
export { availableBackends, initBackend } from './select.ts';
export type { BackendInfo } from './select.ts';
export { registerWasmKernels, restoreWasmKernels, wasmKernelOverrides } from './wasm-kernels.ts';
export { fastMatMul } from './wasm-matmul.ts';
export type { FusedActivation, MatMulArgs } from './wasm-matmul.ts';
