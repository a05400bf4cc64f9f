/**
 * Forgetting on retention suites: the candidate's per-case scores against the base model and the
 * current champion (paired bootstrap on the drop, McNemar and the flipped cases), and the
 * continual-learning summaries of an accuracy matrix (backward transfer, Chaudhry's forgetting).
 */
import { pairedMeanDifference } from '../stats/bootstrap.ts';
import { mcnemar, type McNemarResult } from '../stats/mcnemar.ts';
import { fmt, type Finding, type Severity } from './finding.ts';

/** One case's score in one evaluation; `passed` is null for metrics without a pass/fail. */
export interface CaseScore {
  id: string;
  score: number;
  passed: boolean | null;
}

/** Input of {@link detectForgetting}: one retention suite. */
export interface ForgettingInput {
  suite: string;
  base: readonly CaseScore[];
  candidate: readonly CaseScore[];
  champion?: readonly CaseScore[];
  /** The largest drop (reference mean − candidate mean, in score units) that is fine; default 0. */
  tolerance?: number;
  /** Bootstrap seed (default 12345), resamples (default 1000) and confidence (default 0.95). */
  seed?: number;
  samples?: number;
  confidence?: number;
}

/** The candidate against one reference model on the cases both were scored on. */
export interface ForgettingComparison {
  against: 'base' | 'champion';
  /** Cases present in both, and cases of either side that had no partner. */
  compared: number;
  ignored: number;
  referenceMean: number;
  candidateMean: number;
  /** referenceMean − candidateMean: positive means the candidate got worse. */
  drop: number;
  /** Bootstrap CI of the drop. */
  low: number;
  high: number;
  confidence: number;
  /** Two-sided paired bootstrap p-value (1 when the drop is exactly 0). */
  pValue: number;
  /** Case ids, in the candidate's order, that the reference passed and the candidate failed. */
  passToFail: string[];
  failToPass: string[];
  /** McNemar on the cases with a pass/fail on both sides; null when there are none. */
  mcnemar: McNemarResult | null;
  severity: Severity | null;
}

/** What {@link detectForgetting} returns: one finding per reference that shows a drop. */
export interface ForgettingResult {
  suite: string;
  base: ForgettingComparison;
  champion?: ForgettingComparison;
  findings: Finding[];
}

function byId(scores: readonly CaseScore[], side: string): Map<string, CaseScore> {
  const map = new Map<string, CaseScore>();
  for (const s of scores) {
    // Two scores for one case would silently weigh it twice; that is a bug upstream.
    if (map.has(s.id)) throw new Error(`duplicate case id ${JSON.stringify(s.id)} in ${side}`);
    map.set(s.id, s);
  }
  return map;
}

function compare(
  against: 'base' | 'champion',
  reference: readonly CaseScore[],
  candidate: readonly CaseScore[],
  input: ForgettingInput,
): ForgettingComparison {
  const tolerance = input.tolerance ?? 0;
  const ref = byId(reference, against);
  const cand = byId(candidate, 'candidate');
  const refScores: number[] = [];
  const candScores: number[] = [];
  const refPass: boolean[] = [];
  const candPass: boolean[] = [];
  const passToFail: string[] = [];
  const failToPass: string[] = [];
  for (const c of cand.values()) {
    const r = ref.get(c.id);
    if (!r) continue;
    refScores.push(r.score);
    candScores.push(c.score);
    if (r.passed === null || c.passed === null) continue;
    refPass.push(r.passed);
    candPass.push(c.passed);
    if (r.passed && !c.passed) passToFail.push(c.id);
    if (!r.passed && c.passed) failToPass.push(c.id);
  }
  const compared = refScores.length;
  const d = pairedMeanDifference(refScores, candScores, {
    seed: input.seed,
    samples: input.samples,
    confidence: input.confidence,
  });
  // pairedMeanDifference measures candidate − reference; a drop is its negation.
  // (0 - x rather than -x, so that no drop is 0, not -0.)
  const drop = 0 - d.difference;
  const low = 0 - d.high;
  const high = 0 - d.low;
  let severity: Severity | null = null;
  if (compared > 0 && low > tolerance) severity = 'block';
  else if (compared > 0 && drop > tolerance) severity = 'warn';
  return {
    against,
    compared,
    ignored: ref.size + cand.size - 2 * compared,
    referenceMean: d.baselineMean,
    candidateMean: d.systemMean,
    drop,
    low,
    high,
    confidence: d.confidence,
    pValue: d.pValue,
    passToFail,
    failToPass,
    mcnemar: refPass.length > 0 ? mcnemar(refPass, candPass) : null,
    severity,
  };
}

function toFinding(suite: string, c: ForgettingComparison, tolerance: number): Finding | null {
  if (!c.severity) return null;
  const pct = Math.round(c.confidence * 100);
  const verdict =
    c.severity === 'block' ? 'significantly beyond' : 'beyond, but not significantly,';
  return {
    detector: 'forgetting',
    severity: c.severity,
    summary:
      `On ${suite} the candidate scores ${fmt(c.drop)} below the ${c.against} ` +
      `(${fmt(c.referenceMean)} → ${fmt(c.candidateMean)}, ${pct}% CI ${fmt(c.low)}..${fmt(c.high)}, ` +
      `p = ${fmt(c.pValue)}, ${c.compared} cases, ${c.passToFail.length} pass→fail), ` +
      `${verdict} the tolerance ${fmt(tolerance)}.`,
    evidence: {
      suite,
      against: c.against,
      compared: c.compared,
      ignored: c.ignored,
      referenceMean: c.referenceMean,
      candidateMean: c.candidateMean,
      drop: c.drop,
      low: c.low,
      high: c.high,
      confidence: c.confidence,
      pValue: c.pValue,
      tolerance,
      passToFail: c.passToFail,
      failToPass: c.failToPass,
      mcnemar: c.mcnemar,
    },
  };
}

/**
 * Compares a candidate's per-case scores on one retention suite with the base model's and, when
 * given, the champion's, aligned by case id. Severity `block` when the drop's CI lies entirely
 * above `tolerance` (significantly worse), `warn` when only the point drop exceeds it.
 *
 * @example
 * const base = [{ id: 'a', score: 1, passed: true }, { id: 'b', score: 1, passed: true }];
 * const candidate = [{ id: 'a', score: 0, passed: false }, { id: 'b', score: 1, passed: true }];
 * const r = detectForgetting({ suite: 'retention', base, candidate });
 * r.base.drop // 0.5
 * r.base.passToFail // ['a']
 */
export function detectForgetting(input: ForgettingInput): ForgettingResult {
  const tolerance = input.tolerance ?? 0;
  const base = compare('base', input.base, input.candidate, input);
  const champion = input.champion
    ? compare('champion', input.champion, input.candidate, input)
    : undefined;
  const findings = [base, champion]
    .map((c) => (c ? toFinding(input.suite, c, tolerance) : null))
    .filter((f): f is Finding => f !== null);
  return { suite: input.suite, base, ...(champion ? { champion } : {}), findings };
}

function checkMatrix(acc: readonly (readonly number[])[]): number {
  const T = acc.length;
  acc.forEach((row, i) => {
    if (row.length < T) throw new Error(`acc[${i}] has ${row.length} tasks, needs ${T}`);
  });
  return T;
}

/**
 * Backward transfer (Lopez-Paz & Ranzato 2017, GEM): how training on later tasks changed the score
 * on earlier ones, `1/(T-1) Σ_{j<T-1} (acc[T-1][j] − acc[j][j])`, where `acc[i][j]` is the score on
 * task j after training stage i. Negative means forgetting; NaN with fewer than two stages.
 *
 * @example
 * backwardTransfer([[0.8, 0.1], [0.6, 0.9]]) // 0.6 - 0.8 = -0.2 (up to rounding)
 */
export function backwardTransfer(acc: readonly (readonly number[])[]): number {
  const T = checkMatrix(acc);
  if (T < 2) return Number.NaN;
  let sum = 0;
  for (let j = 0; j < T - 1; j++) sum += acc[T - 1]![j]! - acc[j]![j]!;
  return sum / (T - 1);
}

/**
 * Average forgetting (Chaudhry et al. 2018, RWalk): for each task j < T-1, the best score it ever
 * had before the last stage minus its score after the last stage, averaged over those tasks.
 * Positive means forgetting; NaN with fewer than two stages.
 *
 * @example
 * chaudhryForgetting([[0.8, 0.1], [0.6, 0.9]]) // 0.8 - 0.6 = 0.2 (up to rounding)
 */
export function chaudhryForgetting(acc: readonly (readonly number[])[]): number {
  const T = checkMatrix(acc);
  if (T < 2) return Number.NaN;
  let sum = 0;
  for (let j = 0; j < T - 1; j++) {
    let best = -Infinity;
    for (let l = 0; l < T - 1; l++) best = Math.max(best, acc[l]![j]!);
    sum += best - acc[T - 1]![j]!;
  }
  return sum / (T - 1);
}

/**
 * Forgetting across a fine-tuning run's checkpoints, for skills the base already had: `scores[i][j]`
 * is the score on retention suite j at stage i, where stage 0 is the base model and the stages after
 * it are the run's checkpoints in order. Every skill was learnt at stage 0, so GEM's backward
 * transfer becomes the mean of `scores[last][j] − scores[0][j]` (negative: forgotten), and
 * Chaudhry's forgetting the mean of `max_{i<last} scores[i][j] − scores[last][j]` (positive: lost
 * from its best). Suites with a missing score (NaN) at the last stage are left out.
 *
 * @example
 * runForgetting([[0.9, 0.8], [0.7, 0.8], [0.3, 0.6]]) // { backwardTransfer: -0.4, chaudhryForgetting: 0.4, suites: 2 }
 */
export function runForgetting(scores: readonly (readonly number[])[]): {
  backwardTransfer: number;
  chaudhryForgetting: number;
  suites: number;
} {
  const T = scores.length;
  if (T < 2) return { backwardTransfer: Number.NaN, chaudhryForgetting: Number.NaN, suites: 0 };
  const width = scores[0]!.length;
  if (scores.some((row) => row.length !== width)) throw new Error('scores must be rectangular');
  let bwt = 0;
  let forgetting = 0;
  let n = 0;
  for (let j = 0; j < width; j++) {
    const last = scores[T - 1]![j]!;
    if (!Number.isFinite(last) || !Number.isFinite(scores[0]![j]!)) continue;
    let best = -Infinity;
    for (let i = 0; i < T - 1; i++)
      if (Number.isFinite(scores[i]![j]!)) best = Math.max(best, scores[i]![j]!);
    bwt += last - scores[0]![j]!;
    forgetting += best - last;
    n++;
  }
  return n
    ? { backwardTransfer: bwt / n, chaudhryForgetting: forgetting / n, suites: n }
    : { backwardTransfer: Number.NaN, chaudhryForgetting: Number.NaN, suites: 0 };
}
