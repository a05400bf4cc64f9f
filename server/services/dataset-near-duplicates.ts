/**
 * Near-duplicate detection in time linear in the data: MinHash sketches with LSH banding.
 *
 * Choices, and why:
 * - Shingles are character 5-grams of the normalised text (lower-cased, whitespace collapsed).
 *   Rows in fine-tuning sets are often short prompts, where word 5-grams give a handful of
 *   shingles and one edited word changes most of them; character shingles keep the Jaccard
 *   similarity meaningful from ten words to ten pages.
 * - One-permutation hashing (Li, Owen & Zhang 2012) with optimal densification (Shrivastava 2017):
 *   each shingle is hashed once and lands in one of 64 bins that keep their minimum, so a row
 *   costs O(its length + 64) instead of O(64 x its length) for 64 independent hash functions.
 * - 16 bands of 4 bins: rows that agree on every bin of some band become candidates. A pair with
 *   Jaccard 0.8 is a candidate with probability 1 - (1 - 0.8^4)^16 > 0.999; a pair at 0.3 with
 *   probability 0.12, and candidates are then checked against the threshold.
 * - The check estimates Jaccard from the fraction of equal bins, using the low 8 bits of each bin
 *   (b-bit MinHash, Li & König 2010): 64 bytes a row instead of 256, corrected for the 1/256
 *   chance that different values share 8 bits.
 * - Buckets are found by sorting (band hash, row) keys per band rather than with hash maps: 16
 *   maps with an entry per row would cost far more memory than the sort's O(n log n) time. Each
 *   row is checked against the first (earliest) row of its bucket only, so a bucket of thousands
 *   of look-alike rows costs thousands of checks, not millions of pairs.
 *
 * Memory: 128 bytes a row (sketch + band hashes), so 100k rows take about 13 MB.
 */

export const NEAR_DUPLICATE_THRESHOLD = 0.8;
const SHINGLE = 5;
const BINS = 64;
const BANDS = 16;
const PER_BAND = BINS / BANDS;
const EMPTY = 0xffffffff;

/** murmur3's 32-bit finaliser: cheap, and every input bit reaches every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The 64 bin minima of a text's shingle set (densified: no bin stays empty). */
export function sketch(normalised: string): Uint32Array {
  const bins = new Uint32Array(BINS).fill(EMPTY);
  const shingles = Math.max(1, normalised.length - SHINGLE + 1);
  for (let i = 0; i < shingles; i++) {
    let h = 0x9747b28c;
    const end = Math.min(normalised.length, i + SHINGLE);
    for (let j = i; j < end; j++) h = Math.imul(h ^ normalised.charCodeAt(j), 0x01000193);
    h = mix(h);
    const bin = h >>> 26; // top 6 bits choose the bin, the rest is the value kept
    const value = h & 0x03ffffff;
    if (value < bins[bin]!) bins[bin] = value;
  }
  // Optimal densification: an empty bin borrows from a bin picked by a hash of (bin, attempt),
  // the same sequence for every row, so two rows with equal sets still get equal sketches.
  const filled = bins.slice();
  for (let b = 0; b < BINS; b++) {
    if (bins[b] !== EMPTY) continue;
    for (let attempt = 1; ; attempt++) {
      const donor = mix(Math.imul(b + 1, 0x9e3779b1) ^ attempt) % BINS;
      if (bins[donor] !== EMPTY) {
        filled[b] = bins[donor]!;
        break;
      }
    }
  }
  return filled;
}

/** A growable array of fixed-width records of 32-bit or 8-bit values. */
class Columns<T extends Uint32Array | Uint8Array> {
  data: T;
  constructor(
    private readonly width: number,
    private readonly make: (n: number) => T,
  ) {
    this.data = make(width * 1024);
  }
  set(row: number, values: ArrayLike<number>): void {
    if ((row + 1) * this.width > this.data.length) {
      const grown = this.make(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set(values, row * this.width);
  }
}

export interface NearDuplicate {
  /** Index (in the order added) of the later row. */
  row: number;
  /** Index of the earlier row it resembles. */
  of: number;
  /** Estimated Jaccard similarity of their shingle sets. */
  similarity: number;
}

/**
 * Collects rows one at a time, then finds each row that resembles an earlier one.
 *
 * @example
 * const index = new NearDuplicateIndex();
 * index.add('the cat sat on the mat'); index.add('the cat sat on the mat!');
 * index.find(); // [{ row: 1, of: 0, similarity: ≈0.9 }]
 */
export class NearDuplicateIndex {
  private count = 0;
  private readonly low8 = new Columns(BINS, (n) => new Uint8Array(n));
  private readonly bands = new Columns(BANDS, (n) => new Uint32Array(n));
  private readonly bandRow = new Uint32Array(BANDS);

  /** Adds a normalised text; returns its index. */
  add(normalised: string): number {
    const s = sketch(normalised);
    for (let b = 0; b < BANDS; b++) {
      let h = b + 1;
      for (let k = 0; k < PER_BAND; k++) h = mix(h ^ s[b * PER_BAND + k]!);
      this.bandRow[b] = h;
    }
    this.low8.set(
      this.count,
      s.map((v) => v & 0xff),
    );
    this.bands.set(this.count, this.bandRow);
    return this.count++;
  }

  similarity(a: number, b: number): number {
    const x = this.low8.data;
    let equal = 0;
    for (let i = 0; i < BINS; i++) if (x[a * BINS + i] === x[b * BINS + i]) equal++;
    // Different minima agree in their low 8 bits 1 time in 256; undo that bias.
    return Math.max(0, (equal / BINS - 1 / 256) / (1 - 1 / 256));
  }

  /** For each row that resembles an earlier one at or above `threshold`: the earliest such row. */
  find(threshold = NEAR_DUPLICATE_THRESHOLD): NearDuplicate[] {
    const n = this.count;
    const best = new Map<number, NearDuplicate>();
    // Pack (band hash, row) into one float so a native numeric sort groups buckets, rows in order.
    const rowBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
    const hashBits = Math.min(32, 52 - rowBits);
    const scale = 2 ** rowBits;
    const keys = new Float64Array(n);
    for (let b = 0; b < BANDS; b++) {
      for (let r = 0; r < n; r++) {
        keys[r] = (this.bands.data[r * BANDS + b]! >>> (32 - hashBits)) * scale + r;
      }
      keys.sort();
      let start = 0;
      for (let i = 1; i <= n; i++) {
        const bucket = Math.floor(keys[start]! / scale);
        if (i < n && Math.floor(keys[i]! / scale) === bucket) continue;
        const first = keys[start]! - bucket * scale;
        for (let j = start + 1; j < i; j++) {
          const row = keys[j]! - bucket * scale;
          const seen = best.get(row);
          if (seen && seen.of <= first) continue;
          const similarity = this.similarity(first, row);
          if (similarity >= threshold) best.set(row, { row, of: first, similarity });
        }
        start = i;
      }
    }
    return [...best.values()].sort((a, b) => a.row - b.row);
  }
}
