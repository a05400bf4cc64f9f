import os from 'node:os';
import type { GpuInfo } from './gpus.ts';

const cpuModel = () =>
  (os.cpus()[0]?.model ?? 'unknown cpu')
    .replace(/\((R|TM)\)/gi, '')
    .replace(/\s+/g, ' ')
    .trim();

/**
 * A CPU device as it is recorded on a run: what computes and on how many threads.
 *
 * @example
 * cpuDevice('wasm simd', 1); // 'wasm simd (1 thread, AMD EPYC 7B13 64-Core Processor)'
 */
export function cpuDevice(kind: string, threads: number): string {
  return `${kind} (${threads} thread${threads === 1 ? '' : 's'}, ${cpuModel()})`;
}

/**
 * GPU devices as recorded on a run, in CUDA order.
 *
 * @example
 * gpuDevice([{ index: 0, name: 'NVIDIA H200', memoryTotalMiB: 143771, memoryUsedMiB: 0 }]); // 'cuda:0 NVIDIA H200 (140 GiB)'
 */
export function gpuDevice(gpus: GpuInfo[]): string {
  return gpus
    .map((g, i) => {
      const memory =
        g.memoryTotalMiB === null ? '' : ` (${Math.round(g.memoryTotalMiB / 1024)} GiB)`;
      return `cuda:${i} ${g.name}${memory}`;
    })
    .join(', ');
}
