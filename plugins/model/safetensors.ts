import { open, readFile, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON header, then the tensors' bytes, contiguous and little-endian.
 * Every float dtype heldout meets in GPT-2-family checkpoints is read; only F32 is written,
 * because training and the tfjs backends work in float32.
 */

/** The dtypes we decode; anything else in a file is rejected with an error that names it. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsContents {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** What `writeSafetensors` takes: structurally a `WeightMap` from config.ts. */
export type SafetensorsInput = ReadonlyMap<
  string,
  { shape: readonly number[]; data: Float32Array }
>;

/** The reference implementation's own cap (MAX_HEADER_SIZE in safetensors/src/tensor.rs). */
export const MAX_HEADER_BYTES = 100_000_000;

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

// Named so that a file with, say, I64 tensors gets "not supported" rather than "unknown".
const OTHER_KNOWN_DTYPES = new Set(
  [
    'BOOL',
    'U8',
    'I8',
    'I16',
    'U16',
    'I32',
    'U32',
    'I64',
    'U64',
    'F64',
    'F8_E4M3',
    'F8_E5M2',
  ].concat(['F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']),
);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Thrown for any file that does not follow the format; the message says what and where. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/**
 * Parses a whole safetensors file held in memory. F16 and BF16 tensors are widened to float32.
 * The header is checked as strictly as the reference reader checks it: offsets must start at 0,
 * follow each other without gaps or overlaps, match shape × dtype size, and end at the file's end.
 *
 * @example
 * const { tensors, metadata } = readSafetensors(await readFile('model.safetensors'));
 * tensors.get('wte.weight'); // { dtype: 'F32', shape: [50257, 768], data: Float32Array }
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsContents {
  const { entries, metadata, headerBytes } = readSafetensorsHeader(bytes, bytes.byteLength);
  const data = bytes.subarray(8 + headerBytes);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const raw = data.subarray(e.begin, e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(e.dtype, raw) });
  }
  return { tensors, metadata };
}

/**
 * The length N of a safetensors header, from the file's first 8 bytes, checked against the size
 * of the whole file: what to read before `readSafetensorsHeader` without reading the tensors.
 *
 * @example
 * const n = safetensorsHeaderLength(first8, size); // then read bytes [0, 8 + n)
 */
export function safetensorsHeaderLength(start: Uint8Array, fileBytes: number): number {
  if (start.byteLength < 8 || fileBytes < 8) {
    throw new SafetensorsError(`file is ${fileBytes} bytes, too short for a header length`);
  }
  const declared = new DataView(start.buffer, start.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      `header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
    );
  }
  const n = Number(declared);
  if (8 + n > fileBytes) {
    throw new SafetensorsError(
      `header length ${n} runs past the end of the ${fileBytes}-byte file`,
    );
  }
  return n;
}

/**
 * A safetensors file's header, validated against the size of the whole file as `readSafetensors`
 * validates it, from `start`: at least the file's first 8 + N bytes. The tensors are not read, so
 * a checkpoint of any size is checked in the memory of its header.
 *
 * @example
 * const { entries } = readSafetensorsHeader(firstBytes, size); // [{ name, dtype, shape, ... }]
 */
export function readSafetensorsHeader(
  start: Uint8Array,
  fileBytes: number,
): { entries: HeaderEntry[]; metadata: Record<string, string>; headerBytes: number } {
  const n = safetensorsHeaderLength(start, fileBytes);
  if (start.byteLength < 8 + n) {
    throw new SafetensorsError(`need the first ${8 + n} bytes, got ${start.byteLength}`);
  }
  const header = parseHeader(start.subarray(8, 8 + n));
  const entries = validateEntries(header.entries, fileBytes - 8 - n);
  return { entries, metadata: header.metadata, headerBytes: n };
}

/** One tensor as a header declares it; `begin`/`end` are offsets into the data after it. */
export interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseHeader(raw: Uint8Array): {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
} {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (cause) {
    throw new SafetensorsError('header is not valid UTF-8 JSON', { cause });
  }
  if (!isPlainObject(json)) throw new SafetensorsError('header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value)) throw new SafetensorsError('__metadata__ is not an object');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') {
          throw new SafetensorsError(`__metadata__.${k} is not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, value));
  }
  return { entries, metadata };
}

function parseEntry(name: string, value: unknown): HeaderEntry {
  const where = `tensor "${name}"`;
  if (!isPlainObject(value)) throw new SafetensorsError(`${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw new SafetensorsError(`${where}: dtype is missing`);
  if (!(dtype in BYTES_PER_ELEMENT)) {
    const known = OTHER_KNOWN_DTYPES.has(dtype);
    throw new SafetensorsError(
      `${where}: ${known ? 'unsupported' : 'unknown'} dtype "${dtype}" (heldout reads F32, F16, BF16)`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new SafetensorsError(`${where}: shape must be an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new SafetensorsError(`${where}: data_offsets must be [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

function validateEntries(entries: HeaderEntry[], dataBytes: number): HeaderEntry[] {
  // Sorted by offsets as the reference does: older writers ordered the header by name.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    const where = `tensor "${e.name}"`;
    if (e.end < e.begin) {
      throw new SafetensorsError(`${where}: data_offsets [${e.begin}, ${e.end}] end before begin`);
    }
    if (e.begin < expected) {
      throw new SafetensorsError(`${where}: data_offsets [${e.begin}, ${e.end}] overlap another`);
    }
    if (e.begin > expected) {
      throw new SafetensorsError(`${where}: gap of ${e.begin - expected} bytes before its data`);
    }
    if (e.end > dataBytes) {
      throw new SafetensorsError(
        `${where}: data_offsets [${e.begin}, ${e.end}] out of bounds (${dataBytes} data bytes)`,
      );
    }
    const elements = e.shape.reduce((a, b) => a * b, 1);
    const want = elements * BYTES_PER_ELEMENT[e.dtype];
    if (!Number.isSafeInteger(want) || want !== e.end - e.begin) {
      throw new SafetensorsError(
        `${where}: shape [${e.shape}] of ${e.dtype} needs ${want} bytes, offsets give ${e.end - e.begin}`,
      );
    }
    expected = e.end;
  }
  if (expected !== dataBytes) {
    throw new SafetensorsError(
      `${dataBytes - expected} trailing bytes after the last tensor (file truncated or padded?)`,
    );
  }
  return sorted;
}

function decode(dtype: SafetensorsDtype, raw: Uint8Array): Float32Array {
  if (dtype === 'F32') {
    // Copy into a fresh, 4-byte-aligned buffer: the view into the file may be unaligned, and
    // Buffer#slice (what fs hands us) would not copy at all.
    if (LITTLE_ENDIAN) {
      const copy = new Uint8Array(raw.byteLength);
      copy.set(raw);
      return new Float32Array(copy.buffer);
    }
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return Float32Array.from({ length: raw.byteLength / 4 }, (_, i) => v.getFloat32(i * 4, true));
  }
  const n = raw.byteLength / 2;
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(n);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32, so widening is a shift, exact for NaN payloads too.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = v.getUint16(i * 2, true) << 16;
    return out;
  }
  const table = f16Table();
  for (let i = 0; i < n; i++) out[i] = table[v.getUint16(i * 2, true)]!;
  return out;
}

let f16Cache: Float32Array | undefined;

/** All 65 536 half-precision values as float32: a table beats bit twiddling per element. */
function f16Table(): Float32Array {
  if (f16Cache) return f16Cache;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (f16Cache = t);
}

/**
 * Serialises float32 tensors byte for byte as the Python `safetensors` library does: tensors
 * ordered by name (UTF-8 byte order), the JSON header compact and padded with spaces to a
 * multiple of 8 bytes, `__metadata__` first. The reference keeps metadata in a hash map, so its
 * key order varies from run to run; we sort metadata keys so that our output is deterministic
 * (identical to the reference whenever there is at most one key, as with `{format: 'pt'}`).
 *
 * `metadata` defaults to `{format: 'pt'}` because transformers refuses to load a safetensors
 * checkpoint whose metadata lacks a known `format`.
 *
 * @example
 * const bytes = writeSafetensors(new Map([['w', { shape: [2], data: new Float32Array([1, 2]) }]]));
 */
export function writeSafetensors(
  tensors: SafetensorsInput,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const { header, chunks } = prepare(tensors, metadata);
  const total = chunks.reduce((a, c) => a + c.byteLength, header.byteLength);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let at = header.byteLength;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function prepare(
  tensors: SafetensorsInput,
  metadata: Record<string, string>,
): { header: Uint8Array; chunks: Uint8Array[] } {
  const enc = new TextEncoder();
  const names = [...tensors.keys()]
    .map((name) => ({ name, utf8: enc.encode(name) }))
    .sort((a, b) => Buffer.compare(a.utf8, b.utf8))
    .map((x) => x.name);
  // The object is built key by key so that JSON.stringify keeps this insertion order.
  const json: Record<string, unknown> = {};
  const metaKeys = Object.keys(metadata).sort();
  json.__metadata__ = Object.fromEntries(metaKeys.map((k) => [k, metadata[k]]));
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is not a tensor name');
    const { shape, data } = tensors.get(name)!;
    if (!shape.every(isCount)) {
      throw new SafetensorsError(`tensor "${name}": shape [${shape}] is not a list of sizes`);
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    if (elements !== data.length) {
      throw new SafetensorsError(
        `tensor "${name}": shape [${shape}] has ${elements} elements, data has ${data.length}`,
      );
    }
    const bytes = float32Bytes(data);
    json[name] = { dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + bytes.length] };
    offset += bytes.byteLength;
    chunks.push(bytes);
  }
  const text = enc.encode(JSON.stringify(json));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + text.byteLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, 8);
  return { header, chunks };
}

function float32Bytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const v = new DataView(out.buffer);
  data.forEach((x, i) => v.setFloat32(i * 4, x, true));
  return out;
}

/**
 * Reads and parses a safetensors file.
 *
 * @example
 * const { tensors } = await loadSafetensorsFile('base/model.safetensors');
 */
export async function loadSafetensorsFile(path: string): Promise<SafetensorsContents> {
  return readSafetensors(await readFile(path));
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file beside the target,
 * which is flushed and then renamed over it, so a crash never leaves a half-written checkpoint
 * under the real name. Tensors are streamed from their buffers, not copied into one big array.
 *
 * @example
 * await saveSafetensorsFile('ckpt/model.safetensors', weights, { format: 'pt' });
 */
export async function saveSafetensorsFile(
  path: string,
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): Promise<void> {
  const { header, chunks } = prepare(tensors, metadata ?? { format: 'pt' });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(tmp, 'w');
  try {
    for (const c of [header, ...chunks]) await writeAll(file, c);
    await file.sync();
    await file.close();
    await rename(tmp, path);
  } catch (err) {
    await file.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  // A write may be short; loop until the kernel has taken every byte.
  for (let at = 0; at < bytes.byteLength; ) {
    const { bytesWritten } = await file.write(bytes, at, bytes.byteLength - at);
    at += bytesWritten;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
