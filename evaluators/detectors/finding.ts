/**
 * What every detector reports. Gates read `severity` and `evidence`; people read `summary`.
 */

/** The detectors heldout runs; the registry in `index.ts` must have one entry per kind. */
export type DetectorKind = 'overfitting' | 'forgetting' | 'memorisation' | 'contamination';

/** `block` stops a promotion on its own; `warn` and `info` are left to the gate's policy. */
export type Severity = 'info' | 'warn' | 'block';

/**
 * One detector's verdict on one thing (a run's curves, a retention suite, a training set).
 *
 * @example
 * const f: Finding = {
 *   detector: 'overfitting',
 *   severity: 'warn',
 *   summary: 'Validation loss has not improved for 3 evaluations since step 300.',
 *   evidence: { bestStep: 300, patience: 3 },
 * };
 */
export interface Finding {
  detector: DetectorKind;
  severity: Severity;
  /** One human sentence with the key numbers. */
  summary: string;
  /** JSON-serialisable numbers and ids that justify the finding. */
  evidence: Record<string, unknown>;
}

/**
 * A number for a summary sentence: four significant digits, no exponent noise.
 *
 * @example
 * fmt(0.123456) // '0.1235'
 */
export function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x);
}
