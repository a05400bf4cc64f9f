import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_HEADER_BYTES,
  SafetensorsError,
  loadSafetensorsFile,
  readSafetensors,
  saveSafetensorsFile,
  writeSafetensors,
} from '../../plugins/model/safetensors.ts';

/** Builds a file by hand, straight from the format's description, independent of our writer. */
function build(header: object, data: number[], pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const u16le = (xs: number[]) => xs.flatMap((x) => [x & 0xff, x >> 8]);
const f32le = (xs: number[]) => [...new Uint8Array(new Float32Array(xs).buffer)];

describe('readSafetensors on hand-built bytes', () => {
  it('decodes F16 including subnormals, infinities and NaN', () => {
    // IEEE half bit patterns, written out so the test does not share code with the decoder.
    const bits = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555];
    const file = build({ h: { dtype: 'F16', shape: [2, 5], data_offsets: [0, 20] } }, u16le(bits));
    const t = readSafetensors(file).tensors.get('h')!;
    expect(t.dtype).toBe('F16');
    expect(t.shape).toEqual([2, 5]);
    const v = [...t.data];
    expect(v.slice(0, 7)).toEqual([1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity]);
    expect(v[7]).toBeNaN();
    expect(Object.is(v[8], -0)).toBe(true);
    expect(v[9]).toBeCloseTo(0.333, 3);
  });

  it('decodes BF16 as the top half of a float32', () => {
    const bits = [0x3f80, 0xc020, 0x7f7f, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x8000];
    const file = build({ b: { dtype: 'BF16', shape: [8], data_offsets: [0, 16] } }, u16le(bits));
    const v = [...readSafetensors(file).tensors.get('b')!.data];
    expect(v.slice(0, 6)).toEqual([1, -2.5, 3.3895313892515355e38, 2 ** -133, Infinity, -Infinity]);
    expect(v[6]).toBeNaN();
    expect(Object.is(v[7], -0)).toBe(true);
  });

  it('reads F32, metadata, tensors in any header order and an unaligned header', () => {
    const file = build(
      {
        b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
        __metadata__: { format: 'pt', step: '3' },
        a: { dtype: 'F32', shape: [2, 1], data_offsets: [0, 8] },
      },
      f32le([0.5, -1, 3]),
      3,
    );
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata).toEqual({ format: 'pt', step: '3' });
    expect([...tensors.get('a')!.data]).toEqual([0.5, -1]);
    expect([...tensors.get('b')!.data]).toEqual([3]);
    expect(tensors.get('a')!.shape).toEqual([2, 1]);
  });

  it('reads from a Uint8Array that is a view at an odd offset into a larger buffer', () => {
    const file = build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32le([1, 2]));
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    expect([...readSafetensors(big.subarray(3)).tensors.get('a')!.data]).toEqual([1, 2]);
  });
});

describe('readSafetensors rejects malformed files with clear errors', () => {
  const t = (data_offsets: number[], shape = [1], dtype = 'F32') => ({
    dtype,
    shape,
    data_offsets,
  });
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['too short', new Uint8Array(4), /too short/],
    ['header past the end', build({}, []).subarray(0, 9), /past the end/],
    [
      'absurd header length',
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES) + 1n, true);
        return b;
      })(),
      /exceeds the 100000000-byte limit/,
    ],
    ['header not JSON', build({}, []).fill(0x41, 8), /not valid UTF-8 JSON/],
    ['header an array', (() => build([] as unknown as object, []))(), /not a JSON object/],
    ['unknown dtype', build({ a: t([0, 4], [1], 'F128') }, f32le([1])), /unknown dtype "F128"/],
    ['unsupported dtype', build({ a: t([0, 8], [1], 'I64') }, f32le([1, 1])), /unsupported dtype/],
    ['bad shape', build({ a: t([0, 4], [-1]) }, f32le([1])), /shape must be/],
    ['bad offsets', build({ a: t([0]) }, f32le([1])), /data_offsets must be/],
    ['overlap', build({ a: t([0, 8], [2]), b: t([4, 8]) }, f32le([1, 2])), /tensor "b".*overlap/],
    ['gap', build({ a: t([4, 8]) }, f32le([1, 2])), /gap of 4 bytes/],
    ['out of bounds', build({ a: t([0, 8], [2]) }, f32le([1])), /out of bounds/],
    [
      'shape mismatch',
      build({ a: t([0, 8], [3]) }, f32le([1, 2])),
      /needs 12 bytes, offsets give 8/,
    ],
    ['trailing bytes', build({ a: t([0, 4]) }, f32le([1, 2])), /4 trailing bytes/],
    ['end before begin', build({ a: t([4, 0]) }, f32le([1])), /end before begin/],
    [
      'metadata not strings',
      build({ __metadata__: { step: 3 }, a: t([0, 4]) }, f32le([1])),
      /__metadata__.step is not a string/,
    ],
  ];
  it.each(cases)('%s', (_name, bytes, message) => {
    expect(() => readSafetensors(bytes)).toThrow(SafetensorsError);
    expect(() => readSafetensors(bytes)).toThrow(message);
  });
});

describe('writeSafetensors', () => {
  it('round-trips float32 tensors exactly, NaN and -0 included', () => {
    const weights = new Map([
      ['wte.weight', { shape: [3, 2], data: new Float32Array([1, -0, NaN, Infinity, 1e-45, 3]) }],
      ['h.0.ln_1.bias', { shape: [2], data: new Float32Array([0.1, 0.2]) }],
      ['scalar', { shape: [], data: new Float32Array([4]) }],
    ]);
    const { tensors, metadata } = readSafetensors(writeSafetensors(weights, { step: '10' }));
    expect(metadata).toEqual({ step: '10' });
    for (const [name, w] of weights) {
      const got = tensors.get(name)!;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(w.shape);
      expect(new Uint8Array(got.data.buffer)).toEqual(new Uint8Array(w.data.buffer));
    }
  });

  it('pads the header with spaces to a multiple of 8, names in UTF-8 byte order', () => {
    const one = () => ({ shape: [1], data: new Float32Array([1]) });
    const bytes = writeSafetensors(
      new Map([
        ['😀', one()],
        ['Ａ', one()],
        ['b', one()],
        ['B', one()],
      ]),
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text).toMatch(/} *$/);
    const header = JSON.parse(text) as Record<string, unknown>;
    // UTF-16 order would put the emoji (0xD83D) before the fullwidth A (0xFF21); UTF-8 does not.
    expect(Object.keys(header)).toEqual(['__metadata__', 'B', 'b', 'Ａ', '😀']);
    expect(header.__metadata__).toEqual({ format: 'pt' });
  });

  it('refuses data that does not match the shape', () => {
    const bad = new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]]);
    expect(() => writeSafetensors(bad)).toThrow(/shape \[2,2\] has 4 elements, data has 3/);
  });
});

describe('file helpers', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('saves atomically (no temp file left) and loads back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'heldout-st-'));
    dirs.push(dir);
    const path = join(dir, 'model.safetensors');
    await writeFile(path, 'old contents');
    const weights = new Map([['w', { shape: [2], data: new Float32Array([1, 2]) }]]);
    await saveSafetensorsFile(path, weights);
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    expect(await readFile(path)).toEqual(Buffer.from(writeSafetensors(weights)));
    const { tensors } = await loadSafetensorsFile(path);
    expect([...tensors.get('w')!.data]).toEqual([1, 2]);
  });
});
