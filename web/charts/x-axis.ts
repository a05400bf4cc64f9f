/** What the loss chart's x axis shows: the step, seconds since the first point, or the clock. */
export type XMode = 'step' | 'relative' | 'wall';

export interface TimedPoint {
  step: number;
  /** Epoch milliseconds, as the server sends them. */
  wallTime: number;
}

export interface XAxis {
  /** The x of a logged point. */
  ofPoint(p: TimedPoint): number;
  /** The x of a bare step (buckets, checkpoints, evaluations): NaN when it cannot be placed. */
  ofStep(step: number): number;
  type: 'quantitative' | 'temporal';
  title: string;
}

/**
 * Places points on the chosen x axis. Buckets, checkpoints and evaluations only know their step,
 * so on a time axis their wall time is interpolated between the logged points around that step
 * (clamped at the ends): a checkpoint saved between two logs lands between them.
 */
export function xAxis(mode: XMode, points: readonly TimedPoint[]): XAxis {
  if (mode === 'step') {
    return { ofPoint: (p) => p.step, ofStep: (s) => s, type: 'quantitative', title: 'step' };
  }
  // A loop, not Math.min(...points): a million arguments overflow the stack.
  let origin = 0;
  if (mode === 'relative') {
    origin = Infinity;
    for (const p of points) origin = Math.min(origin, p.wallTime);
  }
  const scale = mode === 'relative' ? 1 / 1000 : 1;
  const toX = (wallTime: number) => (wallTime - origin) * scale;
  const byStep = [...points].sort((a, b) => a.step - b.step);
  return {
    ofPoint: (p) => toX(p.wallTime),
    ofStep: (step) => toX(wallTimeAt(byStep, step)),
    type: mode === 'wall' ? 'temporal' : 'quantitative',
    title: mode === 'wall' ? 'wall time' : 'seconds since start',
  };
}

function wallTimeAt(byStep: readonly TimedPoint[], step: number): number {
  const first = byStep[0];
  const last = byStep.at(-1);
  if (!first || !last) return NaN;
  if (step <= first.step) return first.wallTime;
  if (step >= last.step) return last.wallTime;
  let lo = 0;
  let hi = byStep.length - 1;
  // Invariant: byStep[lo].step < step <= byStep[hi].step.
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (byStep[mid]!.step < step) lo = mid;
    else hi = mid;
  }
  const a = byStep[lo]!;
  const b = byStep[hi]!;
  return a.wallTime + ((b.wallTime - a.wallTime) * (step - a.step)) / (b.step - a.step);
}
