import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BackendSelectionError,
  initBackend,
  parseBackendName,
} from '../../plugins/model/backend/index.ts';

// A PATH without nvidia-smi, so these tests mean the same on a GPU machine.
const noGpuDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-nogpu-'));
afterAll(() => fs.rmSync(noGpuDir, { recursive: true, force: true }));
const env = (extra: NodeJS.ProcessEnv = {}) => ({
  ...process.env,
  HELDOUT_BACKEND: '',
  PATH: noGpuDir,
  ...extra,
});

const installed = (name: string) => {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
};

describe('backend selection', () => {
  it('validates names and lists the valid ones', () => {
    expect(parseBackendName(' WASM ')).toBe('wasm');
    expect(() => parseBackendName('gpu')).toThrow(
      'unknown backend "gpu"; valid: node-gpu, node, wasm, cpu',
    );
  });

  it('honours HELDOUT_BACKEND and reports a device', async () => {
    const info = await initBackend({ env: env({ HELDOUT_BACKEND: 'wasm' }) });
    expect(info).toMatchObject({ backend: 'wasm', gpus: [], threads: 1 });
    expect(info.device).toMatch(/^wasm simd \(1 thread, .+\)$/);
    expect(tf.getBackend()).toBe('wasm');
    const cpu = await initBackend({ prefer: 'cpu', env: env({ HELDOUT_BACKEND: 'wasm' }) });
    expect(cpu).toMatchObject({ backend: 'cpu', threads: 1 });
    expect(cpu.device).toMatch(/^cpu \(1 thread, .+\)$/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('leaves gradients registered', async () => {
    await initBackend({ prefer: 'cpu', env: env() });
    expect(
      tf
        .grad((x: tf.Tensor) => tf.square(x))(tf.scalar(3))
        .dataSync()[0],
    ).toBe(6);
  });

  it('rejects an unknown HELDOUT_BACKEND, listing the valid ones', async () => {
    const error = await initBackend({ env: env({ HELDOUT_BACKEND: 'tpu' }) }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackendSelectionError);
    expect((error as Error).message).toMatch(
      /HELDOUT_BACKEND value "tpu"; valid: node-gpu, node, wasm, cpu/,
    );
  });

  it.skipIf(installed('@tensorflow/tfjs-node'))(
    'rejects a forced backend that is absent, listing the available ones',
    async () => {
      await expect(initBackend({ env: env({ HELDOUT_BACKEND: 'node' }) })).rejects.toThrow(
        /backend "node" is not available here \(.+\); available: wasm, cpu$/,
      );
    },
  );

  it('rejects node-gpu without a visible GPU', async () => {
    await expect(initBackend({ prefer: 'node-gpu', env: env() })).rejects.toThrow(/no visible GPU/);
  });

  it.skipIf(installed('@tensorflow/tfjs-node'))(
    'falls back to wasm without the native packages',
    async () => {
      expect((await initBackend({ env: env() })).backend).toBe('wasm');
    },
  );
});
