import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../plugins/model/safetensors.ts';

// Both files were written by the Python safetensors library (0.8.0) with
// fixtures/make-safetensors-fixtures.py; the values below repeat that script's.
const fixture = (name: string) => readFile(new URL(`fixtures/${name}`, import.meta.url));

describe('files written by the Python safetensors library', () => {
  it('reads F32, F16 and BF16 tensors and the metadata', async () => {
    const { tensors, metadata } = readSafetensors(await fixture('reference-mixed.safetensors'));
    expect(metadata).toEqual({ format: 'pt', made_by: 'make-safetensors-fixtures.py' });
    expect([...tensors.keys()].sort()).toEqual([
      'bf16.values',
      'f16.values',
      'f32.matrix',
      'f32.scalar',
    ]);

    const m = tensors.get('f32.matrix')!;
    expect([m.dtype, m.shape]).toEqual(['F32', [2, 3]]);
    expect([...m.data]).toEqual([-0.5, -0.25, 0, 0.25, 0.5, 0.75]);
    const s = tensors.get('f32.scalar')!;
    expect([s.shape, [...s.data]]).toEqual([[], [7.25]]);

    const h = tensors.get('f16.values')!;
    expect([h.dtype, h.shape]).toEqual(['F16', [11]]);
    const hv = [...h.data];
    expect(hv.slice(0, 3)).toEqual([1, -2.5, 0]);
    expect(Object.is(hv[3], -0)).toBe(true);
    expect(hv.slice(4, 6)).toEqual([Infinity, -Infinity]);
    expect(hv[6]).toBeNaN();
    expect(hv.slice(7, 10)).toEqual([65504, 2 ** -24, 2 ** -14]);
    expect(hv[10]).toBe(Math.fround(0.0999755859375)); // 0.1 rounded to half precision

    const b = tensors.get('bf16.values')!;
    expect([b.dtype, b.shape]).toEqual(['BF16', [10]]);
    const bv = [...b.data];
    expect(bv.slice(0, 3)).toEqual([1, -2.5, 0]);
    expect(Object.is(bv[3], -0)).toBe(true);
    expect(bv.slice(4, 6)).toEqual([Infinity, -Infinity]);
    expect(bv[6]).toBeNaN();
    // 3e38, 2^-133 (the smallest subnormal) and 0.1, each rounded to bfloat16.
    expect(bv.slice(7)).toEqual([3.00405527047391e38, 2 ** -133, 0.10009765625]);
  });

  it('writes float32 files byte-identical to the Python library', async () => {
    const reference = new Uint8Array(await fixture('reference-f32.safetensors'));
    const { tensors, metadata } = readSafetensors(reference);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.size).toBe(7);
    // Rebuild the tensors in a different insertion order: the writer must sort them itself.
    const shuffled = new Map([...tensors].reverse());
    expect(writeSafetensors(shuffled, { format: 'pt' })).toEqual(reference);
    expect(writeSafetensors(shuffled)).toEqual(reference);
  });
});
