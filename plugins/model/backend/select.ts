import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { cpuDevice, gpuDevice } from './device.ts';
import { listGpus, visibleGpus } from './gpus.ts';
import type { GpuInfo } from './gpus.ts';
import { loadGradients } from './gradients.ts';
import { BackendSelectionError, backendNames, parseBackendName } from './names.ts';
import type { BackendName } from './names.ts';
import { registerWasmKernels } from './wasm-kernels.ts';

/** What a run records about where it computed. */
export interface BackendInfo {
  backend: BackendName;
  /** Human-readable, e.g. `cuda:0 NVIDIA H200 (140 GiB)` or `wasm simd (1 thread, AMD EPYC 7B13)`. */
  device: string;
  /** The GPUs this process sees (after `CUDA_VISIBLE_DEVICES`), whichever backend won. */
  gpus: GpuInfo[];
  threads?: number;
}

interface Context {
  gpus: GpuInfo[];
}

interface Loader {
  /** The tfjs backend name the package registers. */
  tfName: string;
  /** Imports the package; throws with the reason when it cannot be used here. */
  load: (ctx: Context) => Promise<void>;
  describe: (ctx: Context) => Promise<{ device: string; threads?: number }>;
}

// Optional native packages: a variable specifier keeps tsc and vite from resolving them up front.
const importOptional = (name: string): Promise<unknown> => import(/* @vite-ignore */ name);

const loaders = {
  'node-gpu': {
    tfName: 'tensorflow',
    load: async ({ gpus }) => {
      if (gpus.length === 0) throw new Error('nvidia-smi found no visible GPU');
      await importOptional('@tensorflow/tfjs-node-gpu');
    },
    describe: async ({ gpus }) => ({ device: gpuDevice(gpus) }),
  },
  node: {
    tfName: 'tensorflow',
    load: async () => void (await importOptional('@tensorflow/tfjs-node')),
    describe: async () => {
      const threads = os.availableParallelism();
      return { device: cpuDevice('tensorflow cpu', threads), threads };
    },
  },
  wasm: {
    tfName: 'wasm',
    load: async () => {
      // The node bundle finds its .wasm files next to itself (dist/); SIMD is detected and used,
      // the threaded build is never picked under Node (tfjs turns it off there).
      await import('@tensorflow/tfjs-backend-wasm');
      registerWasmKernels();
    },
    describe: async () => {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const threads = Math.max(1, wasm.getThreadsCount());
      return { device: cpuDevice(simd ? 'wasm simd' : 'wasm', threads), threads };
    },
  },
  cpu: {
    tfName: 'cpu',
    load: async () => void (await import('@tensorflow/tfjs-backend-cpu')),
    // Plain JavaScript on the calling thread.
    describe: async () => ({ device: cpuDevice('cpu', 1), threads: 1 }),
  },
} satisfies Record<BackendName, Loader>;

async function activate(name: BackendName, ctx: Context): Promise<void> {
  const loader = loaders[name];
  await loader.load(ctx);
  if (!(await tf.setBackend(loader.tfName)))
    throw new Error(`tfjs could not initialise "${loader.tfName}"`);
  await tf.ready();
}

const reason = (e: unknown) => (e instanceof Error ? e.message.split('\n')[0] : String(e));

/**
 * Picks the compute backend once at start: `HELDOUT_BACKEND` (or `prefer`) when set, otherwise the
 * first that works of tfjs-node-gpu (only with a visible GPU), tfjs-node, wasm, cpu. Also registers
 * tfjs's gradients, so the result is ready to train. An unknown or unusable forced backend throws a
 * `BackendSelectionError` that lists the valid or the available ones.
 *
 * @example
 * const { backend, device } = await initBackend(); // { backend: 'wasm', device: 'wasm simd (1 thread, AMD EPYC 7B13)', ... }
 * await initBackend({ prefer: 'cpu' });
 */
export async function initBackend(
  opts: { prefer?: BackendName; env?: NodeJS.ProcessEnv } = {},
): Promise<BackendInfo> {
  const env = opts.env ?? process.env;
  const fromEnv = env.HELDOUT_BACKEND?.trim() ? env.HELDOUT_BACKEND : undefined;
  const forced = opts.prefer
    ? parseBackendName(opts.prefer)
    : fromEnv && parseBackendName(fromEnv, 'HELDOUT_BACKEND value');
  const ctx: Context = { gpus: visibleGpus(await listGpus({ env }), env) };
  const failures: string[] = [];
  for (const name of forced ? [forced] : backendNames) {
    try {
      await activate(name, ctx);
      await loadGradients();
      return { backend: name, gpus: ctx.gpus, ...(await loaders[name].describe(ctx)) };
    } catch (e) {
      failures.push(`${name}: ${reason(e)}`);
    }
  }
  if (!forced)
    throw new BackendSelectionError(`no compute backend works here (${failures.join('; ')})`);
  const available = await availableBackends({ env, except: forced });
  throw new BackendSelectionError(
    `backend "${forced}" is not available here (${reason(failures[0])}); available: ${available.join(', ') || 'none'}`,
  );
}

/**
 * The backends that load on this machine, in preference order. Loading is a side effect (the
 * packages register themselves with tfjs) but the active backend is left as it was.
 *
 * @example
 * await availableBackends(); // ['wasm', 'cpu'] without the native packages
 */
export async function availableBackends(
  opts: { env?: NodeJS.ProcessEnv; except?: BackendName } = {},
): Promise<BackendName[]> {
  const env = opts.env ?? process.env;
  const ctx: Context = { gpus: visibleGpus(await listGpus({ env }), env) };
  const ok: BackendName[] = [];
  for (const name of backendNames) {
    if (name === opts.except) continue;
    try {
      await loaders[name].load(ctx);
      ok.push(name);
    } catch {
      // Not installed or not loadable here: simply not available.
    }
  }
  return ok;
}
