/** Latency summaries. */
import { quantile } from '../stats/descriptive.ts';

/** Latency percentiles in the unit given (milliseconds in heldout). */
export interface LatencySummary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * p50/p90/p95/p99 with linear interpolation (numpy's default), mean and max.
 *
 * @example
 * latencyPercentiles([10, 20, 30, 40]).p50 // 25
 */
export function latencyPercentiles(latencies: readonly number[]): LatencySummary {
  const n = latencies.length;
  if (n === 0) {
    const nan = Number.NaN;
    return { n, mean: nan, p50: nan, p90: nan, p95: nan, p99: nan, max: nan };
  }
  return {
    n,
    mean: latencies.reduce((s, x) => s + x, 0) / n,
    p50: quantile(latencies, 0.5),
    p90: quantile(latencies, 0.9),
    p95: quantile(latencies, 0.95),
    p99: quantile(latencies, 0.99),
    max: Math.max(...latencies),
  };
}
