/**
 * Evaluates a policy tree: an exhaustive registry of handlers (adding a check kind without one
 * fails the type check), `{ purpose }` expansion, and the all/any combination rules.
 */
import { change, noBlockingFindings, threshold, type CheckOf, type LeafResult } from './checks.ts';
import { selectSuites } from './evidence.ts';
import { maxRegressions, nonInferiority } from './paired-checks.ts';
import { servingLatency } from './serving-check.ts';
import type { CheckKind, GateCheck, GatePolicy } from './policy.ts';
import type { GateInput, GateNode, Outcome, Verdict } from './types.ts';

type Handler<K extends CheckKind> = (check: CheckOf<K>, input: GateInput, path: string) => GateNode;

/**
 * `all`: fail if any child fails, else no_data if any child lacks data, else pass. Missing evidence
 * can therefore never let a conjunction pass.
 *
 * @example
 * combineAll(['pass', 'no_data']) // 'no_data'
 */
export function combineAll(outcomes: readonly Outcome[]): Outcome {
  if (outcomes.includes('fail')) return 'fail';
  return outcomes.includes('no_data') ? 'no_data' : 'pass';
}

/**
 * `any`: pass if any child passes, else fail if any child fails, else no_data.
 *
 * @example
 * combineAny(['fail', 'no_data']) // 'fail'
 */
export function combineAny(outcomes: readonly Outcome[]): Outcome {
  if (outcomes.includes('pass')) return 'pass';
  return outcomes.includes('fail') ? 'fail' : 'no_data';
}

type LeafKind = Exclude<CheckKind, 'all' | 'any'>;

const leafNode = (kind: LeafKind, path: string, results: LeafResult[]): GateNode => {
  const full = results.map((r) => ({ path, kind, ...r }));
  // A `{ purpose }` check expanded over several suites holds on every one of them.
  return { path, kind, outcome: combineAll(full.map((r) => r.outcome)), results: full };
};

/** Runs a one-suite handler on every suite the selector names. */
const perSuite =
  <C extends CheckOf<'threshold' | 'change' | 'non_inferiority' | 'max_regressions'>>(
    run: (check: C, suite: string, input: GateInput) => LeafResult,
  ) =>
  (check: C, input: GateInput, path: string): GateNode => {
    const suites = selectSuites(check.suite, input);
    const metric = 'metric' in check ? check.metric : undefined;
    const results = suites.ok
      ? suites.value.map((s) => run(check, s, input))
      : [{ metric, outcome: 'no_data' as const, message: `${suites.message}.` }];
    return leafNode(check.kind, path, results);
  };

const composite =
  (combine: (o: Outcome[]) => Outcome) =>
  (check: CheckOf<'all' | 'any'>, input: GateInput, path: string): GateNode => {
    const prefix = path === 'root' ? '' : `${path}.`;
    const children = check.checks.map((c, i) => evaluateNode(c, input, `${prefix}checks[${i}]`));
    return { path, kind: check.kind, outcome: combine(children.map((c) => c.outcome)), children };
  };

/**
 * The handler of every check kind.
 *
 * @example
 * Object.keys(CHECKS) // ['threshold', 'change', 'non_inferiority', ...]
 */
export const CHECKS = {
  threshold: perSuite(threshold),
  change: perSuite(change),
  non_inferiority: perSuite(nonInferiority),
  max_regressions: perSuite(maxRegressions),
  no_blocking_findings: (check, input, path) =>
    leafNode('no_blocking_findings', path, [noBlockingFindings(check, input)]),
  serving_latency: (check, input, path) =>
    leafNode('serving_latency', path, [servingLatency(check, input)]),
  all: composite(combineAll),
  any: composite(combineAny),
} satisfies { [K in CheckKind]: Handler<K> };

function evaluateNode(check: GateCheck, input: GateInput, path: string): GateNode {
  // The cast is sound: the registry's key and the check's kind are the same K.
  const handler = CHECKS[check.kind] as Handler<CheckKind>;
  return handler(check as never, input, path);
}

const leaves = (node: GateNode): NonNullable<GateNode['results']> =>
  node.results ?? (node.children ?? []).flatMap(leaves);

/**
 * Evaluates a parsed policy on the evidence. Never throws on missing evidence: it becomes a
 * `no_data` result with a message, and no_data is never a pass.
 *
 * @example
 * const verdict = evaluateGate(gatePolicySchema.parse(json), { candidate, baselines: { champion }, findings: [] });
 * verdict.outcome // 'pass' | 'fail' | 'no_data'
 * verdict.checks.filter((c) => c.outcome !== 'pass').map((c) => c.message)
 */
export function evaluateGate(policy: GatePolicy, input: GateInput): Verdict {
  const tree = evaluateNode(policy, input, 'root');
  return { outcome: tree.outcome, checks: leaves(tree), tree };
}
