/**
 * heldout's evaluators: pure metric, statistics and suite-running functions (no database, no HTTP).
 * These names are the public API that the rest of heldout and its users script against.
 */
import { bleuCorpus, bleuSentence } from './metrics/bleu.ts';
import { chrfCorpus, chrfSentence } from './metrics/chrf.ts';
import { rougeScore, rougeScoreMulti } from './metrics/rouge.ts';
import { squadExactMatch, squadF1 } from './metrics/squad.ts';

/**
 * BLEU identical to sacrebleu 2.x. `refs[i]` holds the references of `hyps[i]`.
 *
 * @example
 * bleu.corpus(['the cat sat'], [['the cat sat', 'a cat sat']]).score
 * bleu.sentence('the cat', ['the cat sat'], { smoothMethod: 'floor' }).score
 */
export const bleu = { corpus: bleuCorpus, sentence: bleuSentence };

/**
 * chrF / chrF++ identical to sacrebleu 2.x.
 *
 * @example
 * chrf.corpus(['the cat'], [['the cat']], { wordOrder: 2 }).score // chrF++
 */
export const chrf = { corpus: chrfCorpus, sentence: chrfSentence };

/**
 * ROUGE identical to Google's rouge-score (0-1 scale).
 *
 * @example
 * rouge.score('the cat sat', 'the cat', { types: ['rouge1', 'rougeL'], stemmer: true }).rougeL.fmeasure
 * rouge.scoreMulti(['ref one', 'ref two'], 'prediction')
 */
export const rouge = { score: rougeScore, scoreMulti: rougeScoreMulti };

/**
 * SQuAD v1.1 exact match and F1 (0-1 scale), best over the ground truths.
 *
 * @example
 * squad.exactMatch('The Eiffel Tower', ['Eiffel Tower']) // 1
 */
export const squad = { exactMatch: squadExactMatch, f1: squadF1 };

export type { BleuOptions, BleuScore, BleuSmoothMethod } from './metrics/bleu.ts';
export type { BleuTokenizerName } from './metrics/tokenizers.ts';
export type { ChrfOptions, ChrfScore } from './metrics/chrf.ts';
export type { RougeOptions, RougeScore, RougeType } from './metrics/rouge.ts';
export { porterStem } from './metrics/porter-stemmer.ts';
export {
  perplexity,
  bitsPerByte,
  multipleChoiceAccuracy,
  type MultipleChoiceItem,
} from './metrics/likelihood.ts';
export {
  checkAssertion,
  type Assertion,
  type AssertionResult,
  type AssertionType,
} from './metrics/assertions.ts';
export { latencyPercentiles, type LatencySummary } from './metrics/latency.ts';
export { hallucinationRate, type ClaimJudgement } from './metrics/hallucination.ts';
export { aggregateRatings, type Rating, type RatingSummary } from './metrics/human-ratings.ts';

export { mean, standardError, meanAndStandardError, quantile } from './stats/descriptive.ts';
export { mulberry32, resampleIndices, type Rng } from './stats/rng.ts';
export {
  bootstrapCi,
  pairedMeanDifference,
  type BootstrapOptions,
  type Interval,
  type PairedDifference,
} from './stats/bootstrap.ts';
export {
  pairedBootstrapStats,
  estimateCi,
  type PairedBootstrapInput,
  type PairedBootstrapResult,
  type BootstrapEstimate,
} from './stats/paired-bootstrap.ts';
export {
  pairedBootstrapCorpus,
  type CorpusMetricSpec,
  type ResamplingOptions,
} from './stats/corpus-paired-bootstrap.ts';
export { mcnemar, binomialTwoSided, type McNemarResult } from './stats/mcnemar.ts';
export { holm, type HolmResult } from './stats/holm.ts';

export {
  METRICS,
  getMetric,
  type MetricName,
  type MetricImpl,
  type CorpusStatistics,
} from './registry.ts';
export {
  runSuite,
  memoryCache,
  caseHash,
  outputCacheKey,
  type EvalCase,
  type DecodingParams,
  type Generation,
  type ModelHandle,
  type OutputCache,
  type CachedOutput,
  type SuiteVersion,
  type CaseResult,
  type Aggregate,
  type EvaluationResult,
  type RunSuiteOptions,
} from './suite-runner.ts';

export {
  detectors,
  detectOverfitting,
  detectForgetting,
  backwardTransfer,
  chaudhryForgetting,
  runForgetting,
  memorisationProbes,
  memorisationRate,
  detectContamination,
  contaminationWords,
  type DetectorKind,
  type Finding,
  type Severity,
  type CurvePoint,
  type GeneralisationGap,
  type OverfittingInput,
  type OverfittingResult,
  type CaseScore,
  type ForgettingComparison,
  type ForgettingInput,
  type ForgettingResult,
  type MemorisationProbe,
  type MemorisationResult,
  type MemorisationSummary,
  type ProbeOptions,
  type ContaminatedCase,
  type ContaminationInput,
  type ContaminationResult,
  type GroupScore,
} from './detectors/index.ts';

// Promotion gates. `CaseResult` is also the suite runner's name, so the gate's is aliased here.
export {
  gatePolicySchema,
  gateCheckSchema,
  suiteSelectorSchema,
  parseGatePolicy,
  evaluateGate,
  combineAll,
  combineAny,
  CHECKS,
  GATE_EPSILON,
  renderJUnit,
  renderMarkdownSummary,
  type GatePolicy,
  type GateCheck,
  type CheckKind,
  type SuiteSelector,
  type CaseResult as GateCaseResult,
  type SuiteEvidence,
  type GateFinding,
  type GateInput,
  type Outcome as GateOutcome,
  type CheckResult,
  type GateNode,
  type Verdict,
} from './gates/index.ts';
