import { model as m } from '../../sdk/index.ts';

const { tf } = m;

/** One sampled response: the prompt's tokens and the tokens the policy generated after it. */
export interface Rollout {
  prompt: number[];
  response: number[];
}

/** Rollouts as one padded batch; `mask` marks the positions whose target is a response token. */
export interface RolloutBatch {
  input: m.tf.Tensor2D;
  target: m.tf.Tensor2D;
  mask: m.tf.Tensor2D;
  /** Per rollout: the position predicting its first response token, and the response length. */
  spans: { start: number; length: number }[];
  time: number;
}

export function rolloutBatch(rollouts: Rollout[], padId: number): RolloutBatch {
  const seqs = rollouts.map((r) => [...r.prompt, ...r.response]);
  const time = Math.max(...seqs.map((s) => s.length - 1));
  const input = new Int32Array(seqs.length * time).fill(padId);
  const target = new Int32Array(seqs.length * time).fill(padId);
  const mask = new Float32Array(seqs.length * time);
  const spans = rollouts.map((r, b) => {
    const s = seqs[b]!;
    input.set(s.slice(0, -1), b * time);
    target.set(s.slice(1), b * time);
    const start = r.prompt.length - 1;
    mask.fill(1, b * time + start, b * time + start + r.response.length);
    return { start, length: r.response.length };
  });
  const shape: [number, number] = [seqs.length, time];
  return {
    input: tf.tensor2d(input, shape, 'int32'),
    target: tf.tensor2d(target, shape, 'int32'),
    mask: tf.tensor2d(mask, shape),
    spans,
    time,
  };
}

/** A [batch, time] tensor from per-rollout values placed at their response positions. */
export function placed(batch: RolloutBatch, perRollout: number[][]): m.tf.Tensor2D {
  const data = new Float32Array(batch.spans.length * batch.time);
  batch.spans.forEach(({ start }, b) => data.set(perRollout[b]!, b * batch.time + start));
  return tf.tensor2d(data, [batch.spans.length, batch.time]);
}

/** The values at each rollout's response positions, from a [batch, time] array. */
export function picked(
  batch: RolloutBatch,
  values: Float32Array | Int32Array | Uint8Array,
): number[][] {
  return batch.spans.map(({ start, length }, b) =>
    Array.from(values.subarray(b * batch.time + start, b * batch.time + start + length)),
  );
}

/** The identity whose gradient is zero: what reads a tensor without training what made it. */
export const detach = tf.customGrad((x) => ({
  value: (x as m.tf.Tensor).clone(),
  gradFunc: (dy: m.tf.Tensor) => tf.zerosLike(dy),
})) as <T extends m.tf.Tensor>(x: T) => T;

export const maskedMean = (x: m.tf.Tensor, mask: m.tf.Tensor) =>
  x.mul(mask).sum().div(mask.sum().maximum(1)) as m.tf.Scalar;

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
export const average = (xs: number[]) => (xs.length ? sum(xs) / xs.length : 0);
