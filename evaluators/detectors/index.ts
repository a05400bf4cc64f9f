/**
 * Detectors: pure functions that turn a run's curves, per-case scores and training data into
 * findings (overfitting, forgetting, memorisation, contamination) for gates to judge.
 */
import { detectContamination } from './contamination.ts';
import { detectForgetting } from './forgetting.ts';
import { memorisationRate } from './memorisation.ts';
import { detectOverfitting } from './overfitting.ts';
import type { DetectorKind } from './finding.ts';

export type { DetectorKind, Finding, Severity } from './finding.ts';
export {
  detectOverfitting,
  type CurvePoint,
  type GeneralisationGap,
  type OverfittingInput,
  type OverfittingResult,
} from './overfitting.ts';
export {
  detectForgetting,
  backwardTransfer,
  chaudhryForgetting,
  runForgetting,
  type CaseScore,
  type ForgettingComparison,
  type ForgettingInput,
  type ForgettingResult,
} from './forgetting.ts';
export {
  memorisationProbes,
  memorisationRate,
  type MemorisationProbe,
  type MemorisationResult,
  type MemorisationSummary,
  type ProbeOptions,
} from './memorisation.ts';
export {
  detectContamination,
  contaminationWords,
  type ContaminatedCase,
  type ContaminationInput,
  type ContaminationResult,
  type GroupScore,
} from './contamination.ts';

/**
 * Every detector by kind; `satisfies` makes adding a kind without its detector a type error.
 * Memorisation's entry scores continuations; build its probes with `memorisationProbes`.
 *
 * @example
 * detectors.overfitting({ train: [], validation: [] }).bestStep // null
 */
export const detectors = {
  overfitting: detectOverfitting,
  forgetting: detectForgetting,
  memorisation: memorisationRate,
  contamination: detectContamination,
} satisfies Record<DetectorKind, unknown>;
