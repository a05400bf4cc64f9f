/**
 * Overfitting from a run's own loss curves: validation loss stops improving (early-stopping
 * patience, as Keras' `EarlyStopping(patience, min_delta)`) while training loss keeps falling.
 */
import { fmt, type Finding } from './finding.ts';

/** One logged value of a curve. */
export interface CurvePoint {
  step: number;
  value: number;
}

/** Input of {@link detectOverfitting}. Curves are losses: lower is better. */
export interface OverfittingInput {
  train: readonly CurvePoint[];
  validation: readonly CurvePoint[];
  /** Consecutive evaluations without improvement before it counts; default 3. */
  patience?: number;
  /** An evaluation improves only when it beats the reference by more than this; default 0. */
  minDelta?: number;
}

/** Validation minus training loss; null where there is no training loss to compare with. */
export interface GeneralisationGap {
  atBest: number | null;
  atLast: number | null;
}

/** What {@link detectOverfitting} returns. */
export interface OverfittingResult {
  finding?: Finding;
  /** Step of the lowest validation loss (earliest on ties); null without validation points. */
  bestStep: number | null;
  bestValue: number | null;
  gap: GeneralisationGap;
}

const byStep = (points: readonly CurvePoint[]) =>
  points
    .filter((p) => Number.isFinite(p.step) && Number.isFinite(p.value))
    .sort((a, b) => a.step - b.step);

/**
 * Training loss "at" an evaluation: the mean of the training values logged since the previous
 * evaluation (per-step training loss is noisy, one value would make the comparison flaky), or the
 * last value logged before it when none fell in that interval.
 */
function trainLossAt(
  train: readonly CurvePoint[],
  step: number,
  previousStep: number,
): number | null {
  let sum = 0;
  let count = 0;
  let last: number | null = null;
  for (const p of train) {
    if (p.step > step) break;
    last = p.value;
    if (p.step > previousStep) {
      sum += p.value;
      count++;
    }
  }
  return count > 0 ? sum / count : last;
}

/**
 * Flags a run whose validation loss has not improved by `minDelta` for `patience` consecutive
 * evaluations while its training loss fell over the same span, and always reports the best
 * checkpoint and the generalisation gap. Short or empty curves give no finding.
 *
 * @example
 * const train = [100, 200, 300, 400, 500].map((step, i) => ({ step, value: 2 - 0.3 * i }));
 * const validation = [2.1, 1.8, 1.9, 2.0, 2.2].map((value, i) => ({ step: 100 * (i + 1), value }));
 * const r = detectOverfitting({ train, validation });
 * r.bestStep // 200
 * r.finding?.severity // 'warn'
 */
export function detectOverfitting(input: OverfittingInput): OverfittingResult {
  const patience = Math.max(1, input.patience ?? 3);
  const minDelta = Math.max(0, input.minDelta ?? 0);
  const validation = byStep(input.validation);
  const train = byStep(input.train);
  if (validation.length === 0) return { bestStep: null, bestValue: null, gap: nullGap() };

  const trainAt = (i: number) =>
    trainLossAt(train, validation[i]!.step, i > 0 ? validation[i - 1]!.step : -Infinity);
  const gapAt = (i: number) => {
    const t = trainAt(i);
    return t === null ? null : validation[i]!.value - t;
  };

  let best = 0;
  for (let i = 1; i < validation.length; i++)
    if (validation[i]!.value < validation[best]!.value) best = i;
  const last = validation.length - 1;
  const result: OverfittingResult = {
    bestStep: validation[best]!.step,
    bestValue: validation[best]!.value,
    gap: { atBest: gapAt(best), atLast: gapAt(last) },
  };

  // The reference is the last evaluation that improved by more than minDelta (Keras' `best`); with
  // minDelta 0 it is the lowest point. Everything after it has failed to improve.
  let reference = 0;
  for (let i = 1; i < validation.length; i++)
    if (validation[i]!.value < validation[reference]!.value - minDelta) reference = i;
  const stalled = last - reference;
  if (stalled < patience) return result;

  const trainAtReference = trainAt(reference);
  const trainAtLast = trainAt(last);
  if (trainAtReference === null || trainAtLast === null || !(trainAtLast < trainAtReference))
    return result;

  const began = validation[reference + 1]!.step;
  const ref = validation[reference]!;
  const lastPoint = validation[last]!;
  result.finding = {
    detector: 'overfitting',
    severity: 'warn',
    summary:
      `Validation loss has not improved for ${stalled} evaluations since step ${ref.step} ` +
      `(${fmt(ref.value)} → ${fmt(lastPoint.value)} at step ${lastPoint.step}) while training ` +
      `loss fell ${fmt(trainAtReference)} → ${fmt(trainAtLast)}; best checkpoint is step ` +
      `${result.bestStep}, gap ${fmt(result.gap.atLast ?? Number.NaN)} at the last evaluation.`,
    evidence: {
      bestStep: result.bestStep,
      bestValidationLoss: result.bestValue,
      referenceStep: ref.step,
      beganAtStep: began,
      lastStep: lastPoint.step,
      lastValidationLoss: lastPoint.value,
      evaluationsWithoutImprovement: stalled,
      trainLossAtReference: trainAtReference,
      trainLossAtLast: trainAtLast,
      gapAtBest: result.gap.atBest,
      gapAtLast: result.gap.atLast,
      patience,
      minDelta,
    },
  };
  return result;
}

function nullGap(): GeneralisationGap {
  return { atBest: null, atLast: null };
}
