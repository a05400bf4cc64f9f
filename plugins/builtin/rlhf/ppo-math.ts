/**
 * The arithmetic of PPO for language models (Ziegler et al. 2019; Stiennon et al. 2020), kept pure so
 * it can be checked by hand: per-token rewards with a KL penalty, generalised advantage estimation,
 * and the adaptive KL coefficient.
 */

/**
 * Per-token rewards of one response: -beta * (log pi - log ref) at every token, plus the reward
 * model's score on the last one.
 *
 * @example
 * tokenRewards([-1, -2], [-1.5, -2], 0.1, 3); // [-0.05, 3]
 */
export function tokenRewards(
  logprobs: number[],
  refLogprobs: number[],
  beta: number,
  score: number,
): number[] {
  const rewards = logprobs.map((lp, t) => -beta * (lp - refLogprobs[t]!));
  if (rewards.length) rewards[rewards.length - 1]! += score;
  return rewards;
}

/**
 * Generalised advantage estimation over one response (the episode ends after its last token):
 * advantages and the returns the value head regresses to.
 *
 * @example
 * gae([0, 1], [0.5, 0.5], 1, 1); // advantages [0.5, 0.5], returns [1, 1]
 */
export function gae(
  rewards: number[],
  values: number[],
  gamma: number,
  lambda: number,
): { advantages: number[]; returns: number[] } {
  const advantages = new Array<number>(rewards.length).fill(0);
  let next = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    const nextValue = t + 1 < values.length ? values[t + 1]! : 0;
    const delta = rewards[t]! + gamma * nextValue - values[t]!;
    next = delta + gamma * lambda * next;
    advantages[t] = next;
  }
  return { advantages, returns: advantages.map((a, t) => a + values[t]!) };
}

/** Advantages scaled to mean 0 and standard deviation 1 across a batch (a no-op for one value). */
export function whiten(xs: number[]): number[] {
  if (xs.length < 2) return xs.map(() => 0);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  const sd = Math.sqrt(variance) + 1e-8;
  return xs.map((x) => (x - mean) / sd);
}

/**
 * The adaptive KL coefficient: beta grows when the measured KL is above the target and shrinks when
 * below, by at most 20% of the error per `horizon` tokens, so the policy stays on its leash.
 *
 * @example
 * const kl = adaptiveKl({ initial: 0.1, target: 6, horizon: 10_000 });
 * kl.update(12, 256); // KL twice the target: beta rises a little
 */
export function adaptiveKl(opts: { initial: number; target: number; horizon: number }) {
  let beta = opts.initial;
  return {
    get beta() {
      return beta;
    },
    update(measuredKl: number, tokens: number): number {
      const error = Math.max(-0.2, Math.min(0.2, measuredKl / opts.target - 1));
      beta *= 1 + (error * tokens) / opts.horizon;
      return beta;
    },
  };
}
