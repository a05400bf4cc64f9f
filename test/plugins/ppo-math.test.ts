import { describe, expect, it } from 'vitest';
import { adaptiveKl, gae, tokenRewards, whiten } from '../../plugins/builtin/rlhf/ppo-math.ts';

describe('PPO arithmetic', () => {
  it('penalises drift from the reference per token and pays the score at the end', () => {
    expect(tokenRewards([-1, -2], [-1.5, -2], 0.1, 3)).toEqual([-0.05, 3]);
    expect(tokenRewards([], [], 0.1, 3)).toEqual([]);
  });

  it('estimates advantages like the textbook recursion', () => {
    // gamma = lambda = 1: the advantage is the sum of future rewards minus the value.
    const { advantages, returns } = gae([0, 0, 1], [0.2, 0.5, 0.9], 1, 1);
    expect(advantages.map((a) => +a.toFixed(6))).toEqual([0.8, 0.5, 0.1]);
    expect(returns.map((r) => +r.toFixed(6))).toEqual([1, 1, 1]);
    // lambda = 0: one-step temporal differences.
    const td = gae([1, 2], [0.5, 1], 0.9, 0);
    expect(td.advantages.map((a) => +a.toFixed(6))).toEqual([1 + 0.9 * 1 - 0.5, 2 - 1]);
  });

  it('whitens to mean 0 and standard deviation 1', () => {
    const w = whiten([1, 2, 3, 4]);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 10);
    expect(Math.sqrt(w.reduce((a, b) => a + b * b, 0) / 3)).toBeCloseTo(1, 6);
    expect(whiten([5])).toEqual([0]);
  });

  it('raises beta when KL is above target, lowers it below, by at most 20% of the error', () => {
    const kl = adaptiveKl({ initial: 0.1, target: 6, horizon: 1000 });
    expect(kl.update(12, 1000)).toBeCloseTo(0.12, 10); // error clipped to +0.2
    expect(kl.update(6, 1000)).toBeCloseTo(0.12, 10); // on target: unchanged
    expect(kl.update(3, 500)).toBeCloseTo(0.12 * (1 - 0.2 * 0.5), 10);
  });
});
