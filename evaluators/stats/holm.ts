/** Holm's step-down correction for a family of tests (e.g. one per suite). */

/** One corrected test. */
export interface HolmResult {
  pValue: number;
  adjusted: number;
  reject: boolean;
}

/**
 * Holm-Bonferroni adjusted p-values, in the input order, and whether each null is rejected at `alpha`.
 *
 * @example
 * holm([0.01, 0.04, 0.03]).map((r) => r.adjusted) // [0.03, 0.06, 0.06]
 */
export function holm(pValues: readonly number[], alpha = 0.05): HolmResult[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return pValues.map((p, i) => ({
    pValue: p,
    adjusted: adjusted[i]!,
    reject: adjusted[i]! <= alpha,
  }));
}
