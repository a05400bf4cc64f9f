/**
 * The shared ground of the checks: tolerant comparisons, number formatting, finding suites and
 * pairing cases. Everything that can be missing comes back as a `no_data` message, never a throw.
 */
import type { SuiteSelector } from './policy.ts';
import type { CaseResult, GateInput, SuiteEvidence } from './types.ts';

/**
 * Tolerance of every gate comparison: 1e-9 absolute for values up to 1 in magnitude, 1e-9
 * relative above. Floating-point sums land a few ulps off the boundary (0.1 + 0.2 vs 0.3); a value
 * that equals its bound in exact arithmetic must pass, and a difference of 1e-9 is no evidence.
 *
 * @example
 * atLeast(0.1 + 0.2, 0.3) // true
 */
export const GATE_EPSILON = 1e-9;

const tolerance = (a: number, b: number) => GATE_EPSILON * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * `value >= bound`, up to {@link GATE_EPSILON}.
 *
 * @example
 * atLeast(0.30000000000000004, 0.3) // true
 */
export const atLeast = (value: number, bound: number) => value >= bound - tolerance(value, bound);

/**
 * `value <= bound`, up to {@link GATE_EPSILON}.
 *
 * @example
 * atMost(0.3, 0.1 + 0.2) // true
 */
export const atMost = (value: number, bound: number) => value <= bound + tolerance(value, bound);

/**
 * A number for a message: four significant digits, without float noise.
 *
 * @example
 * fmt(0.1 + 0.2) // '0.3'
 */
export const fmt = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : `${x}`);

/** Either the thing, or why it is missing. */
export type Found<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * The candidate suites a selector names, in evidence order. A purpose matching nothing is
 * reported, not treated as a vacuous pass.
 *
 * @example
 * selectSuites('qa', input) // { ok: true, value: ['qa'] } or { ok: false, message: '...' }
 */
export function selectSuites(selector: SuiteSelector, input: GateInput): Found<string[]> {
  if (typeof selector === 'string') return { ok: true, value: [selector] };
  const names = [
    ...new Set(input.candidate.filter((s) => s.purpose === selector.purpose).map((s) => s.suite)),
  ];
  if (names.length === 0) {
    return { ok: false, message: `the candidate has no suite with purpose '${selector.purpose}'` };
  }
  return { ok: true, value: names };
}

/**
 * The candidate's (or a baseline's) evidence on a suite, with at least one case.
 *
 * @example
 * findSuite(input, 'candidate', 'qa')
 */
export function findSuite(
  input: GateInput,
  who: 'candidate' | 'base' | 'champion',
  suite: string,
): Found<SuiteEvidence> {
  const sets = who === 'candidate' ? input.candidate : input.baselines[who];
  if (sets === undefined) return { ok: false, message: `no ${who} evidence was given` };
  const found = sets.find((s) => s.suite === suite);
  if (found === undefined) return { ok: false, message: `the ${who} has no results on '${suite}'` };
  if (found.cases.length === 0) {
    return { ok: false, message: `the ${who} has zero cases on '${suite}'` };
  }
  return { ok: true, value: found };
}

const scoreOf = (c: CaseResult, metric: string) => {
  const v = c.scores[metric];
  // NaN and infinities are treated as "no score" rather than poisoning a mean.
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/**
 * Mean of a metric over the cases that have it.
 *
 * @example
 * metricMean(suite, 'exact_match') // { ok: true, value: { mean: 0.5, n: 4 } }
 */
export function metricMean(
  evidence: SuiteEvidence,
  metric: string,
  who = 'candidate',
): Found<{ mean: number; n: number }> {
  const values = evidence.cases.map((c) => scoreOf(c, metric)).filter((v) => v !== undefined);
  if (values.length === 0) {
    return {
      ok: false,
      message: `the ${who} has no '${metric}' score on '${evidence.suite}' (${evidence.cases.length} cases)`,
    };
  }
  return {
    ok: true,
    value: { mean: values.reduce((s, v) => s + v, 0) / values.length, n: values.length },
  };
}

/**
 * Pairs two suites' cases by id (ids present in only one are ignored), keeping pairs for which
 * `pick` returns a value on both sides.
 *
 * @example
 * pairCases(base, cand, (c) => c.passed ?? undefined) // [{ id, baseline, candidate }, ...]
 */
export function pairCases<T>(
  baseline: SuiteEvidence,
  candidate: SuiteEvidence,
  pick: (c: CaseResult) => T | undefined,
): { id: string; baseline: T; candidate: T }[] {
  const byId = new Map(baseline.cases.map((c) => [c.id, c]));
  const pairs: { id: string; baseline: T; candidate: T }[] = [];
  for (const c of candidate.cases) {
    const b = byId.get(c.id);
    if (b === undefined) continue;
    const [bv, cv] = [pick(b), pick(c)];
    if (bv !== undefined && cv !== undefined) pairs.push({ id: c.id, baseline: bv, candidate: cv });
  }
  return pairs;
}

/**
 * A metric's per-case score, for {@link pairCases}.
 *
 * @example
 * pairCases(base, cand, byMetric('exact_match'))
 */
export const byMetric = (metric: string) => (c: CaseResult) => scoreOf(c, metric);
