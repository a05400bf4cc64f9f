import { describe, expect, it } from 'vitest';
import { pairedBootstrapCorpus } from '../../evaluators/stats/corpus-paired-bootstrap.ts';
import { close, reference } from './reference-values.ts';

const specs = {
  bleu: { metric: 'bleu' },
  chrf: { metric: 'chrf' },
  'chrf++': { metric: 'chrf', options: { wordOrder: 2 } },
} as const;

describe('paired bootstrap replays sacrebleu --paired-bs given its resample indices', () => {
  for (const c of reference.pairedBootstrap) {
    for (const m of c.metrics) {
      it(`${c.name} ${m.metric}`, () => {
        const refs = c.refs.map((r) => [r]);
        const got = pairedBootstrapCorpus(specs[m.metric], c.baseline, c.system, refs, {
          indices: c.indices,
        });
        expect(close(got.baseline.score, m.baseline.score)).toBe(true);
        expect(close(got.system.score, m.system.score)).toBe(true);
        expect(got.baseline.mean).toBeCloseTo(m.baseline.mean, 9);
        expect(got.baseline.ci).toBeCloseTo(m.baseline.ci, 9);
        expect(got.system.mean).toBeCloseTo(m.system.mean, 9);
        expect(got.system.ci).toBeCloseTo(m.system.ci, 9);
        expect(got.pValue).toBe(m.system.pValue);
      });
    }
  }

  it('is reproducible for a seed with heldout’s own PRNG', () => {
    const c = reference.pairedBootstrap[1]!;
    const refs = c.refs.map((r) => [r]);
    const a = pairedBootstrapCorpus({ metric: 'bleu' }, c.baseline, c.system, refs, { seed: 7 });
    const b = pairedBootstrapCorpus({ metric: 'bleu' }, c.baseline, c.system, refs, { seed: 7 });
    expect(a).toEqual(b);
    expect(a.samples).toBe(1000);
    expect(a.difference.low).toBeLessThanOrEqual(a.difference.observed);
    expect(a.difference.high).toBeGreaterThanOrEqual(a.difference.observed);
  });
});
