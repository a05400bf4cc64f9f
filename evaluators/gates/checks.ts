/**
 * Leaf checks that compare means (`threshold`, `change`) and the findings check. A handler answers
 * for one suite; expanding `{ purpose }` selectors happens once, in evaluate.ts.
 */
import { atLeast, atMost, findSuite, fmt, GATE_EPSILON, metricMean } from './evidence.ts';
import type { GateCheck } from './policy.ts';
import type { CheckResult, GateInput } from './types.ts';

/** A leaf result before evaluate.ts adds where it sits in the policy. */
export type LeafResult = Omit<CheckResult, 'path' | 'kind'>;

/** A check of one kind, narrowed from the union. */
export type CheckOf<K extends GateCheck['kind']> = Extract<GateCheck, { kind: K }>;

/**
 * A `no_data` result: evidence is missing, so the check neither passes nor fails.
 *
 * @example
 * noData('qa', 'em', 'the candidate has no results on qa')
 */
export const noData = (suite: string | undefined, metric: string | undefined, message: string) =>
  ({ suite, metric, outcome: 'no_data', message: `${message}.` }) satisfies LeafResult;

const bounds = (min?: number, max?: number) =>
  min !== undefined && max !== undefined
    ? `between ${fmt(min)} and ${fmt(max)}`
    : min !== undefined
      ? `≥ ${fmt(min)}`
      : `≤ ${fmt(max!)}`;

/**
 * `threshold`: the candidate's mean of the metric lies within `[min, max]` (tolerantly).
 *
 * @example
 * threshold({ kind: 'threshold', suite: 'qa', metric: 'em', min: 0.6 }, 'qa', input).outcome
 */
export function threshold(
  check: CheckOf<'threshold'>,
  suite: string,
  input: GateInput,
): LeafResult {
  const { metric, min, max } = check;
  const cand = findSuite(input, 'candidate', suite);
  if (!cand.ok) return noData(suite, metric, cand.message);
  const m = metricMean(cand.value, metric);
  if (!m.ok) return noData(suite, metric, m.message);
  const { mean, n } = m.value;
  const pass =
    (min === undefined || atLeast(mean, min)) && (max === undefined || atMost(mean, max));
  return {
    suite,
    metric,
    outcome: pass ? 'pass' : 'fail',
    observed: mean,
    threshold: { min, max },
    n,
    message: `Mean ${metric} on '${suite}' is ${fmt(mean)} (n = ${n}); it must be ${bounds(min, max)}.`,
  };
}

/**
 * `change`: the candidate's mean against a baseline's. Changes are signed so that positive is
 * better; the relative change divides by |baseline|, so a negative baseline cannot turn a
 * regression into a pass (MLflow's MetricThreshold divides by the signed baseline).
 *
 * @example
 * change({ kind: 'change', baseline: 'base', suite: 'qa', metric: 'em',
 *   direction: 'higher_is_better', minAbsoluteChange: -0.02 }, 'qa', input).outcome
 */
export function change(check: CheckOf<'change'>, suite: string, input: GateInput): LeafResult {
  const { metric, baseline: who, direction, minAbsoluteChange: minAbs } = check;
  const minRel = check.minRelativeChange;
  const cand = findSuite(input, 'candidate', suite);
  if (!cand.ok) return noData(suite, metric, cand.message);
  const base = findSuite(input, who, suite);
  if (!base.ok) return noData(suite, metric, base.message);
  const c = metricMean(cand.value, metric);
  if (!c.ok) return noData(suite, metric, c.message);
  const b = metricMean(base.value, metric, who);
  if (!b.ok) return noData(suite, metric, b.message);
  const [cm, bm] = [c.value.mean, b.value.mean];
  if (minRel !== undefined && Math.abs(bm) < GATE_EPSILON) {
    return noData(
      suite,
      metric,
      `the ${who} mean ${metric} on '${suite}' is ${fmt(bm)}, so a relative change is undefined; ` +
        'use minAbsoluteChange',
    );
  }
  const sign = direction === 'higher_is_better' ? 1 : -1;
  const improvement = sign * (cm - bm);
  const relative = improvement / Math.abs(bm);
  const pass =
    (minAbs === undefined || atLeast(improvement, minAbs)) &&
    (minRel === undefined || atLeast(relative, minRel));
  // The strictest of the criteria, as a bound on the candidate's mean.
  const needed = Math.max(
    minAbs ?? -Infinity,
    minRel === undefined ? -Infinity : minRel * Math.abs(bm),
  );
  const bound = bm + sign * needed;
  const rules = [
    minAbs === undefined ? undefined : `≥ ${fmt(minAbs)} absolute`,
    minRel === undefined ? undefined : `≥ ${fmt(minRel * 100)}% relative`,
  ].filter((r) => r !== undefined);
  return {
    suite,
    metric,
    outcome: pass ? 'pass' : 'fail',
    observed: cm,
    baseline: bm,
    threshold: sign > 0 ? { min: bound } : { max: bound },
    n: c.value.n,
    message:
      `Mean ${metric} on '${suite}' is ${fmt(cm)} (n = ${c.value.n}) vs ${fmt(bm)} for the ${who} ` +
      `(n = ${b.value.n}): a change of ${fmt(improvement)} (${fmt(relative * 100)}%) where ` +
      `${direction.replaceAll('_', ' ')}; it must be ${rules.join(' and ')}.`,
  };
}

/**
 * `no_blocking_findings`: no finding of severity `block` (from the listed detectors, if any).
 * No findings at all is a pass: detectors report problems, and their absence is the good case.
 *
 * @example
 * noBlockingFindings({ kind: 'no_blocking_findings' }, input).outcome
 */
export function noBlockingFindings(
  check: CheckOf<'no_blocking_findings'>,
  input: GateInput,
): LeafResult {
  const only = check.detectors === undefined ? undefined : new Set(check.detectors);
  const blocking = input.findings.filter(
    (f) => f.severity === 'block' && (only === undefined || only.has(f.detector)),
  );
  const scope = check.detectors === undefined ? '' : ` from ${check.detectors.join(', ')}`;
  if (blocking.length === 0) {
    return { outcome: 'pass', observed: 0, message: `No blocking findings${scope}.` };
  }
  // Summaries are sentences; the list ends with one full stop, not two.
  const list = blocking.map((f) => `${f.detector}: ${f.summary.replace(/\.$/, '')}`).join('; ');
  return {
    outcome: 'fail',
    observed: blocking.length,
    findings: blocking,
    message: `${blocking.length} blocking finding${blocking.length === 1 ? '' : 's'}${scope}: ${list}.`,
  };
}
