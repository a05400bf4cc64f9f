/** McNemar's exact test for paired pass/fail outcomes of two systems on the same cases. */

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
  return s;
}

/**
 * Two-sided exact binomial p-value for `k` successes of `n` at p = 0.5: 2 * P(X <= min(k, n-k)),
 * capped at 1, summed in log space so large `n` does not underflow.
 *
 * @example
 * binomialTwoSided(1, 10) // 0.021484375
 */
export function binomialTwoSided(k: number, n: number): number {
  if (n === 0) return 1;
  const m = Math.min(k, n - k);
  const logs: number[] = [];
  for (let i = 0; i <= m; i++) logs.push(logChoose(n, i) - n * Math.LN2);
  const max = Math.max(...logs);
  const tail = Math.exp(max) * logs.reduce((s, l) => s + Math.exp(l - max), 0);
  return Math.min(1, 2 * tail);
}

/** McNemar's discordant counts and exact p-value. */
export interface McNemarResult {
  /** Cases the baseline passed and the system failed (regressions). */
  b: number;
  /** Cases the baseline failed and the system passed (fixes). */
  c: number;
  pValue: number;
  n: number;
}

/**
 * McNemar's exact test from two boolean arrays over the same cases (`true` = pass).
 *
 * @example
 * mcnemar([true, true, false, true], [false, true, true, false]) // { b: 2, c: 1, pValue: 1, n: 4 }
 */
export function mcnemar(baseline: readonly boolean[], system: readonly boolean[]): McNemarResult {
  if (baseline.length !== system.length) {
    throw new Error(`McNemar needs equal lengths, got ${baseline.length} and ${system.length}`);
  }
  let b = 0;
  let c = 0;
  for (let i = 0; i < baseline.length; i++) {
    if (baseline[i] && !system[i]) b++;
    else if (!baseline[i] && system[i]) c++;
  }
  return { b, c, pValue: binomialTwoSided(b, b + c), n: baseline.length };
}
