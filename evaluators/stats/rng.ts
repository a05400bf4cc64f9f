/**
 * A small seeded PRNG (mulberry32, Tommy Ettinger's 32-bit generator) so every bootstrap in heldout is
 * reproducible from its seed. Results are reproducible across runs and machines for a given seed but
 * are NOT bit-identical to numpy's generator (PCG64 + `Generator.choice`): a sacrebleu run and a
 * heldout run resample different segments. To replay sacrebleu exactly, pass its indices instead.
 */

/** A source of uniform floats in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32 seeded with a 32-bit integer.
 *
 * @example
 * const rng = mulberry32(12345);
 * rng(); // the same first value on every run
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `samples` rows of `n` indices drawn uniformly with replacement from `0..n-1`.
 *
 * @example
 * resampleIndices(3, 2, 7) // two rows of three indices in 0..2
 */
export function resampleIndices(n: number, samples: number, seed: number): Uint32Array[] {
  const rng = mulberry32(seed);
  const rows: Uint32Array[] = [];
  for (let s = 0; s < samples; s++) {
    const row = new Uint32Array(n);
    for (let i = 0; i < n; i++) row[i] = Math.floor(rng() * n);
    rows.push(row);
  }
  return rows;
}
