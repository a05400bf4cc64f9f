/**
 * Seeded percentile-bootstrap confidence intervals for per-case scores, and the paired difference
 * of two systems' means on the same cases.
 */
import { pairedBootstrapStats } from './paired-bootstrap.ts';
import { quantile } from './descriptive.ts';
import { resampleIndices } from './rng.ts';

/** Common bootstrap options. */
export interface BootstrapOptions {
  /** Number of resamples; default 1000. */
  samples?: number;
  /** PRNG seed; default 12345 (sacrebleu's default seed). */
  seed?: number;
  /** Two-sided confidence level; default 0.95. */
  confidence?: number;
}

/** A point estimate with its confidence interval. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
  confidence: number;
}

/**
 * Percentile bootstrap CI of a statistic (default: the mean) over per-case values.
 *
 * @example
 * bootstrapCi([0, 1, 1, 0, 1], { seed: 1 }) // { estimate: 0.6, low: 0.2, high: 1, confidence: 0.95 }
 */
export function bootstrapCi(
  values: readonly number[],
  opts: BootstrapOptions & { statistic?: (values: readonly number[]) => number } = {},
): Interval {
  const { samples = 1000, seed = 12345, confidence = 0.95 } = opts;
  const statistic = opts.statistic ?? ((v) => v.reduce((s, x) => s + x, 0) / v.length);
  if (values.length === 0)
    return { estimate: Number.NaN, low: Number.NaN, high: Number.NaN, confidence };
  const resampled = resampleIndices(values.length, samples, seed).map((row) =>
    statistic(Array.from(row, (i) => values[i]!)),
  );
  const alpha = (1 - confidence) / 2;
  return {
    estimate: statistic(values),
    low: quantile(resampled, alpha),
    high: quantile(resampled, 1 - alpha),
    confidence,
  };
}

/** The paired comparison of two systems' mean per-case scores. */
export interface PairedDifference {
  /** mean(system) - mean(baseline). */
  difference: number;
  /** Percentile bootstrap CI of the difference. */
  low: number;
  high: number;
  confidence: number;
  /** Two-sided p-value of sacrebleu's paired bootstrap test, (c + 1) / (n + 1). */
  pValue: number;
  baselineMean: number;
  systemMean: number;
  n: number;
}

/**
 * Paired bootstrap on per-case scores of two systems over the same cases (same index = same case):
 * the difference of means with a CI and a p-value, resampling both systems with shared indices.
 *
 * @example
 * pairedMeanDifference([0, 0, 1, 0], [1, 1, 1, 0], { seed: 3 }).difference // 0.5
 */
export function pairedMeanDifference(
  baseline: readonly number[],
  system: readonly number[],
  opts: BootstrapOptions = {},
): PairedDifference {
  if (baseline.length !== system.length) {
    throw new Error(
      `paired comparison needs equal lengths, got ${baseline.length} and ${system.length}`,
    );
  }
  const confidence = opts.confidence ?? 0.95;
  const n = baseline.length;
  if (n === 0) {
    const nan = Number.NaN;
    return {
      difference: nan,
      low: nan,
      high: nan,
      confidence,
      pValue: nan,
      baselineMean: nan,
      systemMean: nan,
      n,
    };
  }
  const rows = (v: readonly number[]) => v.map((x) => [x, 1]);
  const result = pairedBootstrapStats({
    baseline: rows(baseline),
    system: rows(system),
    score: (s) => s[0]! / s[1]!,
    samples: opts.samples,
    seed: opts.seed,
    confidence,
  });
  return {
    difference: result.system.score - result.baseline.score,
    low: result.difference.low,
    high: result.difference.high,
    confidence,
    // sacrebleu's test gives identical systems p = 1/(samples+1) (no resample exceeds a zero
    // difference); for per-case means a zero observed difference is no evidence at all.
    pValue: result.difference.observed === 0 ? 1 : result.pValue,
    baselineMean: result.baseline.score,
    systemMean: result.system.score,
    n,
  };
}
