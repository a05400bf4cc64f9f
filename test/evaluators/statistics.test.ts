import { describe, expect, it } from 'vitest';
import {
  binomialTwoSided,
  bootstrapCi,
  holm,
  mcnemar,
  meanAndStandardError,
  mulberry32,
  pairedMeanDifference,
  quantile,
} from '../../evaluators/index.ts';
import { numpyMean, numpySum } from '../../evaluators/stats/numpy-sum.ts';

describe('descriptive statistics', () => {
  it('mean and standard error', () => {
    const m = meanAndStandardError([1, 2, 3]);
    expect([m.mean, m.n]).toEqual([2, 3]);
    expect(m.standardError).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(meanAndStandardError([5]).standardError).toBe(0);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.9)).toBe(46);
  });

  it('numpy summation order', () => {
    expect(numpySum([0.1, 0.2, 0.3])).toBe(0.1 + 0.2 + 0.3);
    expect(numpyMean([1, 2, 4])).toBe(7 / 3);
    expect(numpySum([0.1, 0.2, 0.3], true)).toBe(
      Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) + Math.fround(0.3)),
    );
  });
});

describe('seeded PRNG and bootstrap', () => {
  it('mulberry32 is deterministic', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mulberry32(43)()).not.toBe(xs[0]);
  });

  it('bootstrap CI brackets the mean and is reproducible', () => {
    const values = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const ci = bootstrapCi(values, { seed: 5 });
    expect(ci.estimate).toBeCloseTo(67 / 200, 12);
    expect(ci.low).toBeLessThan(ci.estimate);
    expect(ci.high).toBeGreaterThan(ci.estimate);
    expect(ci.high - ci.low).toBeGreaterThan(0.08);
    expect(ci.high - ci.low).toBeLessThan(0.16);
    expect(bootstrapCi(values, { seed: 5 })).toEqual(ci);
    expect(bootstrapCi([], {}).estimate).toBeNaN();
  });

  it('paired difference of means: CI and p-value', () => {
    const base = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 1 : 0));
    const better = base.map((x, i) => (i % 5 === 1 ? 1 : x));
    const d = pairedMeanDifference(base, better, { seed: 1 });
    expect(d.difference).toBeCloseTo(0.1, 12);
    expect(d.low).toBeGreaterThan(0);
    expect(d.high).toBeGreaterThanOrEqual(0.1);
    expect(d.pValue).toBeLessThan(0.01);
    const same = pairedMeanDifference(base, base, { seed: 1 });
    expect(same.difference).toBe(0);
    expect(same.pValue).toBe(1);
    expect(() => pairedMeanDifference([1], [1, 2])).toThrow();
  });
});

describe('McNemar exact test', () => {
  it('computes discordant pairs and the exact binomial p-value', () => {
    expect(binomialTwoSided(1, 10)).toBeCloseTo(0.021484375, 15);
    expect(binomialTwoSided(5, 10)).toBe(1);
    expect(binomialTwoSided(0, 0)).toBe(1);
    // 2 * P(X <= 3), X ~ Bin(20, 0.5) = 2 * 1351 / 2^20
    expect(binomialTwoSided(3, 20)).toBeCloseTo((2 * 1351) / 2 ** 20, 15);
    // Large n stays finite (log space).
    expect(binomialTwoSided(2400, 5000)).toBeGreaterThan(0.004);
    expect(binomialTwoSided(2400, 5000)).toBeLessThan(0.006);
    const r = mcnemar([true, true, false, true, false], [false, true, true, false, false]);
    expect(r).toEqual({ b: 2, c: 1, pValue: 1, n: 5 });
  });
});

describe('Holm correction', () => {
  it('adjusts step-down and keeps input order', () => {
    const r = holm([0.01, 0.04, 0.03]);
    expect(r.map((x) => x.adjusted)).toEqual([0.03, 0.06, 0.06]);
    expect(r.map((x) => x.reject)).toEqual([true, false, false]);
    // Monotone: a larger p never gets a smaller adjusted value.
    expect(holm([0.5, 0.9]).map((x) => x.adjusted)).toEqual([1, 1]);
    expect(holm([])).toEqual([]);
  });
});
