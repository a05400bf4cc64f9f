import { execFile } from 'node:child_process';

/** One NVIDIA GPU as `nvidia-smi` reports it; memory in MiB, `null` where it says `[N/A]`. */
export interface GpuInfo {
  index: number;
  name: string;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
}

export const nvidiaSmiArgs = [
  '--query-gpu=index,name,memory.total,memory.used',
  '--format=csv,noheader,nounits',
];

const mib = (s: string | undefined) => {
  const v = Number(s?.trim());
  return s !== undefined && s.trim() !== '' && Number.isFinite(v) ? v : null;
};

/**
 * Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits`.
 * Lines that do not start with an index are skipped (warnings, blank lines); a name may contain commas.
 *
 * @example
 * parseNvidiaSmi('0, NVIDIA H200, 143771, 1\n'); // [{ index: 0, name: 'NVIDIA H200', memoryTotalMiB: 143771, memoryUsedMiB: 1 }]
 */
export function parseNvidiaSmi(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const fields = line.split(',');
    if (fields.length < 4 || !/^\s*\d+\s*$/.test(fields[0] ?? '')) continue;
    const used = fields.pop();
    const total = fields.pop();
    const name = fields.slice(1).join(',').trim();
    if (!name) continue;
    gpus.push({
      index: Number(fields[0]),
      name,
      memoryTotalMiB: mib(total),
      memoryUsedMiB: mib(used),
    });
  }
  return gpus;
}

/**
 * The local NVIDIA GPUs, from `nvidia-smi` on PATH. No binary, a failing one or a hung one (after
 * `timeoutMs`) all mean no GPUs: a machine without a driver is an ordinary CPU machine.
 *
 * @example
 * const gpus = await listGpus(); // [] on a laptop
 */
export function listGpus(
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<GpuInfo[]> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      nvidiaSmiArgs,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 10_000, windowsHide: true },
      (error, stdout) => resolve(error ? [] : parseNvidiaSmi(String(stdout))),
    );
  });
}

/**
 * The `CUDA_VISIBLE_DEVICES` value that pins a worker's child process to these GPU indices.
 * An empty list hides every GPU, which is what a CPU-only job should get.
 *
 * @example
 * spawn('node', args, { env: { ...process.env, CUDA_VISIBLE_DEVICES: cudaVisibleDevices([0, 2]) } }); // '0,2'
 */
export function cudaVisibleDevices(gpus: number[]): string {
  for (const g of gpus) {
    if (!Number.isInteger(g) || g < 0)
      throw new Error(`GPU index must be a non-negative integer, got ${g}`);
  }
  return [...new Set(gpus)].join(',');
}

/**
 * The GPUs a process sees, in CUDA's order (cuda:0 first), after `CUDA_VISIBLE_DEVICES` (indices
 * only; UUID entries are not resolved and leave the list as is).
 *
 * @example
 * visibleGpus(gpus, { CUDA_VISIBLE_DEVICES: '1' }); // [gpus[1]]
 */
export function visibleGpus(gpus: GpuInfo[], env: NodeJS.ProcessEnv = process.env): GpuInfo[] {
  const value = env.CUDA_VISIBLE_DEVICES;
  if (value === undefined) return gpus;
  const wanted = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!wanted.every((s) => /^\d+$/.test(s))) return gpus;
  // CUDA stops at the first index that does not exist.
  const seen: GpuInfo[] = [];
  for (const s of wanted) {
    const gpu = gpus.find((g) => g.index === Number(s));
    if (!gpu) break;
    seen.push(gpu);
  }
  return seen;
}

/** Utilisation (percent) and memory in use (MiB) of the GPUs with these physical indices. */
export interface GpuUsage {
  index: number;
  utilizationPercent: number | null;
  memoryUsedMiB: number | null;
}

/**
 * What `nvidia-smi` says the given GPUs are doing now; [] without nvidia-smi. nvidia-smi ignores
 * CUDA_VISIBLE_DEVICES, so the indices are physical ones (those a worker was given).
 *
 * @example
 * const [gpu0] = await gpuUsage([0]); // { index: 0, utilizationPercent: 87, memoryUsedMiB: 2048 }
 */
export function gpuUsage(
  indices: number[],
  opts: { timeoutMs?: number } = {},
): Promise<GpuUsage[]> {
  if (!indices.length) return Promise.resolve([]);
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=index,utilization.gpu,memory.used', '--format=csv,noheader,nounits'],
      { timeout: opts.timeoutMs ?? 5_000, windowsHide: true },
      (error, stdout) => {
        if (error) return resolve([]);
        const wanted = new Set(indices);
        const usage: GpuUsage[] = [];
        for (const line of String(stdout).split(/\r?\n/)) {
          const [index, util, used] = line.split(',');
          if (!/^\s*\d+\s*$/.test(index ?? '') || !wanted.has(Number(index))) continue;
          usage.push({
            index: Number(index),
            utilizationPercent: mib(util),
            memoryUsedMiB: mib(used),
          });
        }
        resolve(usage);
      },
    );
  });
}
