/**
 * Leaf checks on cases paired by id against a baseline: `non_inferiority` (paired bootstrap CI of
 * the mean difference) and `max_regressions` (pass → fail flips, with McNemar's p-value).
 */
import { pairedMeanDifference } from '../stats/bootstrap.ts';
import { mcnemar } from '../stats/mcnemar.ts';
import { atLeast, atMost, byMetric, findSuite, fmt, pairCases } from './evidence.ts';
import { noData, type CheckOf, type LeafResult } from './checks.ts';
import type { GateInput } from './types.ts';

const DEFAULT_SEED = 12345;

/**
 * `non_inferiority`: the two-sided `confidence` CI of candidate − baseline (paired bootstrap over
 * cases present in both) must stay above −margin (higher is better) or below +margin (lower is
 * better). A two-sided 95% CI makes its lower bound a one-sided 97.5% bound: conservative.
 *
 * @example
 * nonInferiority({ kind: 'non_inferiority', baseline: 'champion', suite: 'qa', metric: 'em',
 *   margin: 0.02, confidence: 0.95, direction: 'higher_is_better' }, 'qa', input).interval
 */
export function nonInferiority(
  check: CheckOf<'non_inferiority'>,
  suite: string,
  input: GateInput,
): LeafResult {
  const { metric, baseline: who, margin, confidence, direction } = check;
  const cand = findSuite(input, 'candidate', suite);
  if (!cand.ok) return noData(suite, metric, cand.message);
  const base = findSuite(input, who, suite);
  if (!base.ok) return noData(suite, metric, base.message);
  const pairs = pairCases(base.value, cand.value, byMetric(metric));
  if (pairs.length === 0) {
    return noData(
      suite,
      metric,
      `no case of '${suite}' has '${metric}' for both the candidate and the ${who}`,
    );
  }
  const d = pairedMeanDifference(
    pairs.map((p) => p.baseline),
    pairs.map((p) => p.candidate),
    { confidence, seed: input.seed ?? DEFAULT_SEED },
  );
  const higher = direction === 'higher_is_better';
  const pass = higher ? atLeast(d.low, -margin) : atMost(d.high, margin);
  const level = `${fmt(confidence * 100)}%`;
  const rule = higher
    ? `its lower bound must be ≥ ${fmt(-margin)}`
    : `its upper bound must be ≤ ${fmt(margin)}`;
  return {
    suite,
    metric,
    outcome: pass ? 'pass' : 'fail',
    observed: d.systemMean,
    baseline: d.baselineMean,
    threshold: higher ? { min: -margin } : { max: margin },
    interval: { low: d.low, high: d.high, confidence },
    pValue: d.pValue,
    n: d.n,
    message:
      `Mean ${metric} on '${suite}' minus the ${who}'s is ${fmt(d.difference)}, ${level} CI ` +
      `[${fmt(d.low)}, ${fmt(d.high)}] over ${d.n} paired cases (p = ${fmt(d.pValue)}); ${rule}.`,
  };
}

/**
 * `max_regressions`: at most `max` cases that the baseline passed and the candidate fails, over
 * cases present in both with a pass/fail on each side.
 *
 * @example
 * maxRegressions({ kind: 'max_regressions', baseline: 'base', suite: 'qa', max: 0 }, 'qa', input)
 *   .flipped // ['q7', 'q12']
 */
export function maxRegressions(
  check: CheckOf<'max_regressions'>,
  suite: string,
  input: GateInput,
): LeafResult {
  const { baseline: who, max } = check;
  const cand = findSuite(input, 'candidate', suite);
  if (!cand.ok) return noData(suite, undefined, cand.message);
  const base = findSuite(input, who, suite);
  if (!base.ok) return noData(suite, undefined, base.message);
  const pairs = pairCases(base.value, cand.value, (c) => c.passed ?? undefined);
  if (pairs.length === 0) {
    return noData(
      suite,
      undefined,
      `no case of '${suite}' has a pass/fail for both the candidate and the ${who}`,
    );
  }
  const flipped = pairs.filter((p) => p.baseline && !p.candidate).map((p) => p.id);
  const test = mcnemar(
    pairs.map((p) => p.baseline),
    pairs.map((p) => p.candidate),
  );
  return {
    suite,
    outcome: flipped.length <= max ? 'pass' : 'fail',
    observed: flipped.length,
    threshold: { max },
    pValue: test.pValue,
    n: test.n,
    flipped,
    message:
      `${flipped.length} of ${test.n} paired cases on '${suite}' went from pass to fail against ` +
      `the ${who} (at most ${max} allowed) and ${test.c} from fail to pass (McNemar p = ${fmt(test.pValue)}).`,
  };
}
