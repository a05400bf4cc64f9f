import { describe, expect, it } from 'vitest';
import {
  aggregateRatings,
  bitsPerByte,
  checkAssertion,
  hallucinationRate,
  latencyPercentiles,
  multipleChoiceAccuracy,
  perplexity,
} from '../../evaluators/index.ts';

describe('likelihood metrics', () => {
  it('perplexity is token-weighted', () => {
    expect(perplexity([[Math.log(0.5), Math.log(0.5)]])).toBeCloseTo(2, 12);
    expect(
      perplexity([[Math.log(0.5)], [Math.log(0.25), Math.log(0.25), Math.log(0.25)]]),
    ).toBeCloseTo(2 ** (7 / 4), 12);
    expect(() => perplexity([[]])).toThrow();
  });

  it('bits per byte counts UTF-8 bytes', () => {
    expect(bitsPerByte([[Math.log(0.5)]], ['a'])).toBeCloseTo(1, 12);
    expect(bitsPerByte([[Math.log(0.25)]], ['é'])).toBeCloseTo(1, 12);
  });

  it('multiple choice: raw and length-normalised', () => {
    const items = [
      { choiceLogLikelihoods: [-4, -6], choices: ['no', 'yes indeed'], gold: 1 },
      { choiceLogLikelihoods: [-1, -2], choices: ['a', 'b'], gold: 0 },
    ];
    expect(multipleChoiceAccuracy(items)).toEqual({ acc: 0.5, accNorm: 1, n: 2 });
  });
});

describe('assertions', () => {
  it('equals, contains, regex, json-schema', () => {
    expect(
      checkAssertion(' Paris ', { type: 'equals', value: 'paris', ignoreCase: true }).pass,
    ).toBe(true);
    expect(checkAssertion('Paris', { type: 'equals', value: 'Rome' }).pass).toBe(false);
    expect(
      checkAssertion('It is Paris.', { type: 'contains', value: 'paris', ignoreCase: true }).pass,
    ).toBe(true);
    expect(
      checkAssertion('order 1,234', { type: 'regex', pattern: '\\d{1,3}(,\\d{3})*' }).pass,
    ).toBe(true);
    const schema = {
      type: 'object',
      required: ['answer'],
      properties: { answer: { type: 'number' } },
    };
    expect(checkAssertion('{"answer": 4}', { type: 'json-schema', schema }).pass).toBe(true);
    const bad = checkAssertion('{"answer": "4"}', { type: 'json-schema', schema });
    expect(bad.pass).toBe(false);
    expect(bad.reason).toMatch(/number/);
    expect(checkAssertion('not json', { type: 'json-schema', schema }).reason).toMatch(/^not JSON/);
  });
});

describe('latency, hallucination, ratings', () => {
  it('latency percentiles interpolate like numpy', () => {
    const s = latencyPercentiles([10, 20, 30, 40]);
    expect([s.p50, s.p90, s.max, s.mean]).toEqual([25, 37, 40, 25]);
    expect(latencyPercentiles([]).n).toBe(0);
  });

  it('hallucination rate counts outputs with any unsupported claim', () => {
    expect(
      hallucinationRate([
        { claims: 3, unsupported: 1 },
        { claims: 2, unsupported: 0 },
        { claims: 0, unsupported: 0 },
        { claims: 5, unsupported: 5 },
      ]),
    ).toEqual({ rate: 0.5, claimRate: 0.6, n: 4 });
    expect(() => hallucinationRate([{ claims: 1, unsupported: 2 }])).toThrow();
  });

  it('human ratings weigh items equally and report agreement', () => {
    const s = aggregateRatings([
      { itemId: 'a', raterId: 'r1', score: 5 },
      { itemId: 'a', raterId: 'r2', score: 3 },
      { itemId: 'a', raterId: 'r3', score: 5 },
      { itemId: 'b', raterId: 'r1', score: 2 },
    ]);
    expect(s.perItem).toEqual({ a: 13 / 3, b: 2 });
    expect(s.mean).toBeCloseTo((13 / 3 + 2) / 2, 12);
    expect(s.pairwiseAgreement).toBeCloseTo(1 / 3, 12);
    expect([s.items, s.ratings]).toEqual([2, 4]);
  });
});
