/** What a gate is evaluated on, and what it answers. */
import type { CheckKind } from './policy.ts';

/**
 * One eval case's evidence: per-metric scores and its pass/fail (`null` when the suite has none).
 *
 * @example
 * const c: CaseResult = { id: 'q1', scores: { exact_match: 1 }, passed: true };
 */
export interface CaseResult {
  id: string;
  scores: Record<string, number>;
  passed: boolean | null;
}

/**
 * A model's per-case results on one suite.
 *
 * @example
 * const s: SuiteEvidence = { suite: 'qa', purpose: 'target', cases: [] };
 */
export interface SuiteEvidence {
  suite: string;
  purpose: 'target' | 'retention' | 'safety';
  cases: CaseResult[];
}

/**
 * A detector's finding, as far as a gate needs it.
 *
 * @example
 * const f: GateFinding = { detector: 'contamination', severity: 'block', summary: '12% overlap' };
 */
export interface GateFinding {
  detector: string;
  severity: 'info' | 'warn' | 'block';
  summary: string;
}

/**
 * The candidate's serving latency over its latest `last` answered requests (finish reason `stop`
 * or `length`). Cancelled, refused and failed requests are left out: their durations say when the
 * client left or the request was turned away, not how long an answer takes. Latency runs from the
 * moment a request had a generation slot to its last token, so queueing under load is not counted.
 *
 * @example
 * const s: ServingFigures = { last: 1000, requests: 240, latencyMs: { p50: 80, p95: 210, p99: 300 } };
 */
export interface ServingFigures {
  /** The window asked for: at most this many of the newest answered requests. */
  last: number;
  /** Answered requests in the window (fewer than `last` when fewer were served). */
  requests: number;
  latencyMs: { p50: number; p95: number; p99: number } | null;
}

/**
 * Everything a gate looks at: the candidate's evidence, the baselines' and the findings.
 *
 * @example
 * const input: GateInput = { candidate: [], baselines: {}, findings: [], seed: 7 };
 */
export interface GateInput {
  candidate: SuiteEvidence[];
  baselines: { base?: SuiteEvidence[]; champion?: SuiteEvidence[] };
  findings: GateFinding[];
  /**
   * Serving figures of the candidate, one per window a `serving_latency` check asks for (see
   * `servingWindows`). Absent when the evidence was not gathered from a server.
   */
  serving?: ServingFigures[];
  /** Seed of the bootstraps (default 12345), so a verdict can be reproduced. */
  seed?: number;
}

/**
 * A check's outcome. `no_data` is never a pass: missing evidence must be fixed, not ignored.
 *
 * @example
 * const o: Outcome = 'no_data';
 */
export type Outcome = 'pass' | 'fail' | 'no_data';

/**
 * The result of one leaf check on one suite, with the numbers behind it.
 *
 * @example
 * const r: CheckResult = {
 *   path: 'checks[0]', kind: 'threshold', suite: 'qa', metric: 'em', outcome: 'pass',
 *   observed: 0.7, threshold: { min: 0.6 }, n: 50, message: 'mean em on qa is 0.7 (n = 50), needs ≥ 0.6',
 * };
 */
export interface CheckResult {
  /** Where the check sits in the policy, e.g. `checks[1].checks[0]` (`root` for the root). */
  path: string;
  kind: Exclude<CheckKind, 'all' | 'any'>;
  suite?: string;
  metric?: string;
  outcome: Outcome;
  /** The candidate's value (a mean, or a paired mean difference for non-inferiority). */
  observed?: number;
  /** The baseline's value on the same suite. */
  baseline?: number;
  /** The bound(s) `observed` had to meet. */
  threshold?: { min?: number; max?: number };
  /** CI of candidate − baseline (non-inferiority). */
  interval?: { low: number; high: number; confidence: number };
  pValue?: number;
  /** Number of cases (paired cases for baseline comparisons). */
  n?: number;
  /** Case ids that flipped passed → failed (max_regressions). */
  flipped?: string[];
  /** The blocking findings (no_blocking_findings). */
  findings?: GateFinding[];
  /** One human sentence with the numbers. */
  message: string;
}

/**
 * The verdict's tree: composites hold children, leaves hold their per-suite results.
 *
 * @example
 * const node: GateNode = { path: 'root', kind: 'all', outcome: 'pass', children: [] };
 */
export interface GateNode {
  path: string;
  kind: CheckKind;
  outcome: Outcome;
  children?: GateNode[];
  results?: CheckResult[];
}

/**
 * A gate's verdict: the root outcome, every leaf result in policy order, and the tree.
 *
 * @example
 * const v: Verdict = { outcome: 'pass', checks: [], tree: { path: 'root', kind: 'all', outcome: 'pass' } };
 */
export interface Verdict {
  outcome: Outcome;
  checks: CheckResult[];
  tree: GateNode;
}
