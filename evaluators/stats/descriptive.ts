/** Descriptive statistics for per-case scores. */

/**
 * The arithmetic mean (NaN for no values).
 *
 * @example
 * mean([1, 2, 3]) // 2
 */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let total = 0;
  for (const v of values) total += v;
  return total / values.length;
}

/**
 * The standard error of the mean: sample standard deviation (n - 1) over sqrt(n); 0 for one value.
 *
 * @example
 * standardError([1, 2, 3]) // 0.5773502691896258
 */
export function standardError(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) ** 2;
  return Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
}

/**
 * Mean and standard error together.
 *
 * @example
 * meanAndStandardError([0, 1]) // { mean: 0.5, standardError: 0.5, n: 2 }
 */
export function meanAndStandardError(values: readonly number[]): {
  mean: number;
  standardError: number;
  n: number;
} {
  return { mean: mean(values), standardError: standardError(values), n: values.length };
}

/**
 * The `q`-quantile (0..1) with linear interpolation between order statistics (numpy's default
 * `linear` method, R type 7).
 *
 * @example
 * quantile([1, 2, 3, 4], 0.5) // 2.5
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  if (q < 0 || q > 1) throw new Error(`quantile must be in [0, 1], got ${q}`);
  const sorted = [...values].sort((x, y) => x - y);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
