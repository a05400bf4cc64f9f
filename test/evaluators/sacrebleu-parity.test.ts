import { describe, expect, it } from 'vitest';
import { bleu, chrf } from '../../evaluators/index.ts';
import { bleuOpts, chrfOpts, close, reference } from './reference-values.ts';

function label(hyp: string, opts: object): string {
  return `${JSON.stringify(hyp).slice(0, 40)} ${JSON.stringify(opts)}`;
}

describe('BLEU matches sacrebleu', () => {
  it.each(reference.bleuSentence.map((c) => [label(c.hyp, c.opts), c] as const))(
    'sentence %s',
    (_, c) => {
      const got = bleu.sentence(c.hyp, c.refs, bleuOpts(c.opts));
      expect(close(got.score, c.expected.score), `score ${got.score} vs ${c.expected.score}`).toBe(
        true,
      );
      expect(got.counts).toEqual(c.expected.counts);
      expect(got.totals).toEqual(c.expected.totals);
      expect(got.sysLen).toBe(c.expected.sysLen);
      expect(got.refLen).toBe(c.expected.refLen);
      expect(close(got.bp, c.expected.bp)).toBe(true);
      got.precisions.forEach((p, i) => expect(close(p, c.expected.precisions[i]!)).toBe(true));
    },
  );

  it.each(reference.bleuCorpus.map((c) => [label(c.name, c.opts), c] as const))(
    'corpus %s',
    (_, c) => {
      const got = bleu.corpus(c.hyps, c.refs, bleuOpts(c.opts));
      expect(close(got.score, c.expected.score), `score ${got.score} vs ${c.expected.score}`).toBe(
        true,
      );
      expect(got.counts).toEqual(c.expected.counts);
      expect(got.totals).toEqual(c.expected.totals);
      expect([got.sysLen, got.refLen]).toEqual([c.expected.sysLen, c.expected.refLen]);
    },
  );
});

describe('chrF matches sacrebleu', () => {
  it.each(reference.chrfSentence.map((c) => [label(c.hyp, c.opts), c] as const))(
    'sentence %s',
    (_, c) => {
      const got = chrf.sentence(c.hyp, c.refs, chrfOpts(c.opts));
      expect(close(got.score, c.expected.score), `score ${got.score} vs ${c.expected.score}`).toBe(
        true,
      );
    },
  );

  it.each(reference.chrfCorpus.map((c) => [label(c.name, c.opts), c] as const))(
    'corpus %s',
    (_, c) => {
      const got = chrf.corpus(c.hyps, c.refs, chrfOpts(c.opts));
      expect(close(got.score, c.expected.score), `score ${got.score} vs ${c.expected.score}`).toBe(
        true,
      );
    },
  );
});
