import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuDevice } from '../../plugins/model/backend/device.ts';
import {
  cudaVisibleDevices,
  listGpus,
  parseNvidiaSmi,
  visibleGpus,
} from '../../plugins/model/backend/gpus.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A temp dir holding an `nvidia-smi` that prints `stdout` and exits `code` for the expected query. */
function fakeSmi(stdout: string, code = 0): NodeJS.ProcessEnv {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-smi-'));
  dirs.push(dir);
  const script = [
    '#!/bin/sh',
    '[ "$1" = "--query-gpu=index,name,memory.total,memory.used" ] || exit 64',
    '[ "$2" = "--format=csv,noheader,nounits" ] || exit 64',
    `cat <<'EOF_SMI'`,
    stdout,
    'EOF_SMI',
    `exit ${code}`,
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nvidia-smi'), `${script}\n`, { mode: 0o755 });
  return { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}` };
}

const h200 = { name: 'NVIDIA H200', memoryTotalMiB: 143771, memoryUsedMiB: 0 };

describe('GPU discovery through nvidia-smi', () => {
  it('finds one GPU', async () => {
    expect(await listGpus({ env: fakeSmi('0, NVIDIA H200, 143771, 0') })).toEqual([
      { index: 0, ...h200 },
    ]);
  });

  it('finds two GPUs, with commas and [N/A] in the output', async () => {
    const out = '0, NVIDIA H200, 143771, 512\n1, NVIDIA A100-SXM4-80GB, Rev 2, [N/A], [N/A]\n';
    expect(await listGpus({ env: fakeSmi(out) })).toEqual([
      { index: 0, name: 'NVIDIA H200', memoryTotalMiB: 143771, memoryUsedMiB: 512 },
      { index: 1, name: 'NVIDIA A100-SXM4-80GB, Rev 2', memoryTotalMiB: null, memoryUsedMiB: null },
    ]);
  });

  it('finds none when there are none, when it fails, and when it is absent', async () => {
    expect(await listGpus({ env: fakeSmi('') })).toEqual([]);
    expect(await listGpus({ env: fakeSmi('No devices were found', 6) })).toEqual([]);
    expect(await listGpus({ env: fakeSmi('0, NVIDIA H200, 143771, 0', 9) })).toEqual([]);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-nosmi-'));
    dirs.push(empty);
    expect(await listGpus({ env: { ...process.env, PATH: empty } })).toEqual([]);
  });

  it('skips lines that are not GPUs', () => {
    expect(parseNvidiaSmi('WARNING: something\r\n\r\n0, NVIDIA H200, 143771, 0\r\n')).toEqual([
      { index: 0, ...h200 },
    ]);
  });
});

describe('GPU pinning', () => {
  const two = [
    { index: 0, ...h200 },
    { index: 1, ...h200, name: 'NVIDIA A100' },
  ];

  it('builds CUDA_VISIBLE_DEVICES for a worker', () => {
    expect(cudaVisibleDevices([0, 1])).toBe('0,1');
    expect(cudaVisibleDevices([2, 2])).toBe('2');
    expect(cudaVisibleDevices([])).toBe('');
    expect(() => cudaVisibleDevices([-1])).toThrow(/non-negative integer/);
  });

  it('applies CUDA_VISIBLE_DEVICES to what a process sees, and describes it', () => {
    expect(visibleGpus(two, {})).toEqual(two);
    expect(visibleGpus(two, { CUDA_VISIBLE_DEVICES: '1' })).toEqual([two[1]]);
    expect(visibleGpus(two, { CUDA_VISIBLE_DEVICES: '' })).toEqual([]);
    expect(visibleGpus(two, { CUDA_VISIBLE_DEVICES: '1,5,0' })).toEqual([two[1]]);
    expect(gpuDevice(visibleGpus(two, { CUDA_VISIBLE_DEVICES: '1,0' }))).toBe(
      'cuda:0 NVIDIA A100 (140 GiB), cuda:1 NVIDIA H200 (140 GiB)',
    );
  });
});
