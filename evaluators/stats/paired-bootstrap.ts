/**
 * sacrebleu's paired bootstrap resampling test (`--paired-bs`, `significance.py`, after Koehn 2004
 * and Moses' `bootstrap-hypothesis-difference-significance.pl`), on per-segment sufficient
 * statistics so that corpus metrics (BLEU, chrF) are recomputed on every resample:
 *
 * 1. draw `samples` (1000) rows of segment indices with replacement, shared by both systems;
 * 2. score each resample of each system from its summed statistics;
 * 3. sample_diffs = |sys - base| per resample; centre them on their mean;
 * 4. p = (c + 1) / (samples + 1), c = how many centred diffs exceed the observed |sys - base|.
 *
 * Kept from sacrebleu on purpose: a system compared with itself gets p = 1 / (samples + 1), the
 * smallest possible value, because no centred difference exceeds zero. Gates must therefore also
 * require a difference larger than their tolerance ({@link pairedMeanDifference} reports p = 1 instead).
 *
 * sacrebleu stores the statistics as float32 and numpy evaluates the scores in float32 where an
 * operand is float32; `scoreFloat32` lets a metric replay that, and means and sums follow numpy's
 * pairwise order, so p-values, means and CIs equal sacrebleu's when given its resample indices.
 */
import { numpyMean } from './numpy-sum.ts';
import { resampleIndices } from './rng.ts';

/** A system's score, the mean of its resampled scores and sacrebleu's half-width 95% CI. */
export interface BootstrapEstimate {
  score: number;
  mean: number;
  /** Half the width of the interval between the 2.5th and 97.5th percentile (sacrebleu's `ci`). */
  ci: number;
}

/** What {@link pairedBootstrapStats} returns. */
export interface PairedBootstrapResult {
  baseline: BootstrapEstimate;
  system: BootstrapEstimate;
  /** Percentile CI of the resampled differences (system - baseline). */
  difference: { observed: number; low: number; high: number };
  pValue: number;
  samples: number;
}

/** Input of {@link pairedBootstrapStats}. */
export interface PairedBootstrapInput {
  /** Per-segment statistics of the baseline; row i and `system[i]` belong to the same segment. */
  baseline: readonly (readonly number[])[];
  system: readonly (readonly number[])[];
  /** The metric from summed statistics; `float32` asks for sacrebleu's resampled arithmetic. */
  score: (summed: number[], float32: boolean) => number;
  /** True when the metric's resampled scores are float32 (chrF), false when float64 (BLEU). */
  float32Scores?: boolean;
  /** Default 1000. */
  samples?: number;
  /** Default 12345 (sacrebleu's `SACREBLEU_SEED`), used with heldout's mulberry32. */
  seed?: number;
  /** Resample indices to use instead of drawing them (e.g. numpy's, to replay sacrebleu). */
  indices?: readonly ArrayLike<number>[];
  /** For the difference CI; default 0.95. */
  confidence?: number;
}

function sumRows(
  rows: readonly (readonly number[])[],
  idx: ArrayLike<number>,
  float32: boolean,
): number[] {
  const width = rows[0]?.length ?? 0;
  const out = new Array<number>(width).fill(0);
  for (let k = 0; k < idx.length; k++) {
    const row = rows[idx[k]!]!;
    for (let i = 0; i < width; i++) out[i]! += row[i]!;
  }
  return float32 ? out.map(Math.fround) : out;
}

/**
 * sacrebleu's `estimate_ci`: mean of the resampled scores and half the distance between the
 * (n // 40)-th lowest and highest.
 *
 * @example
 * estimateCi(Array.from({ length: 40 }, (_, i) => i), false) // { mean: 19.5, ci: 19 }
 */
export function estimateCi(
  scores: readonly number[],
  float32: boolean,
): { mean: number; ci: number } {
  const sorted = [...scores].sort((a, b) => a - b);
  const n = sorted.length;
  const lowerIdx = Math.floor(n / 40);
  const upperIdx = n - lowerIdx - 1;
  const half = 0.5 * (sorted[upperIdx]! - sorted[lowerIdx]!);
  return {
    mean: numpyMean(sorted, float32),
    ci: float32 ? Math.fround(0.5 * Math.fround(sorted[upperIdx]! - sorted[lowerIdx]!)) : half,
  };
}

/**
 * The paired bootstrap test between a baseline and a system over the same segments.
 *
 * @example
 * const rows = (xs: number[]) => xs.map((x) => [x, 1]);
 * pairedBootstrapStats({ baseline: rows([0, 1, 0]), system: rows([1, 1, 1]), score: (s) => s[0]! / s[1]! })
 *   .pValue // small: the system is better on most resamples
 */
export function pairedBootstrapStats(input: PairedBootstrapInput): PairedBootstrapResult {
  const { baseline, system, score } = input;
  const n = baseline.length;
  if (n === 0 || n !== system.length) {
    throw new Error(
      `paired bootstrap needs two equal, non-empty sets of segments (${n} vs ${system.length})`,
    );
  }
  const samples = input.indices?.length ?? input.samples ?? 1000;
  const f32 = input.float32Scores ?? false;
  const r = f32 ? Math.fround : (x: number) => x;
  const indices = input.indices ?? resampleIndices(n, samples, input.seed ?? 12345);
  const all = (rows: readonly (readonly number[])[]) =>
    sumRows(rows, Array.from(rows.keys()), false);
  const baseScore = score(all(baseline), false);
  const sysScore = score(all(system), false);

  const baseScores = indices.map((idx) => r(score(sumRows(baseline, idx, true), true)));
  const sysScores = indices.map((idx) => r(score(sumRows(system, idx, true), true)));
  const sampleDiffs = sysScores.map((s, i) => r(Math.abs(r(s - baseScores[i]!))));
  const meanDiff = numpyMean(sampleDiffs, f32);
  const observed = r(Math.abs(baseScore - sysScore));
  let c = 0;
  for (const d of sampleDiffs) if (r(d - meanDiff) > observed) c++;

  const signed = sysScores.map((s, i) => s - baseScores[i]!).sort((a, b) => a - b);
  const alpha = (1 - (input.confidence ?? 0.95)) / 2;
  const lo = Math.floor(samples * alpha);
  return {
    baseline: { score: baseScore, ...estimateCi(baseScores, f32) },
    system: { score: sysScore, ...estimateCi(sysScores, f32) },
    difference: {
      observed: sysScore - baseScore,
      low: signed[lo]!,
      high: signed[samples - lo - 1]!,
    },
    pValue: (c + 1) / (samples + 1),
    samples,
  };
}
