/**
 * TensorBoard's smoothing: an exponential moving average debiased like Adam's first moment, so the
 * first points are not dragged towards 0. `smoothing` is the weight of the past, in [0, 1); 0
 * returns the input unchanged. A non-finite value is passed through and does not touch the
 * average, so one NaN does not poison the rest of the line.
 *
 * @example
 * ema([1, 2], 0.5); // [1, 1.6666…]: (0.5·1 + 0.5·2) / (1 − 0.5²)
 */
export function ema(values: readonly number[], smoothing: number): number[] {
  if (!(smoothing >= 0 && smoothing < 1)) {
    throw new RangeError(`smoothing must be in [0, 1), got ${smoothing}`);
  }
  let last = 0;
  let seen = 0;
  return values.map((value) => {
    if (!Number.isFinite(value)) return value;
    last = last * smoothing + (1 - smoothing) * value;
    seen += 1;
    return last / (1 - smoothing ** seen);
  });
}
