import { describe, expect, it } from 'vitest';
import { porterStem, rouge } from '../../evaluators/index.ts';
import { lcsIndices, rougeTokenize, summaryLevelLcs } from '../../evaluators/metrics/rouge.ts';
import { reference } from './reference-values.ts';

// The first two lines of rouge-score's testdata/target.txt and prediction.txt, with the values its
// rouge_scorer_test.py publishes (from ROUGE-1.5.5) to 5 places.
const TARGETS = [
  "ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L\n",
  "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN\n",
];
const PREDICTIONS = [
  "rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi\n",
  "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD\n",
];

function expectScore(
  got: { precision: number; recall: number; fmeasure: number },
  p: number,
  r: number,
  f: number,
) {
  expect(got.precision).toBeCloseTo(p, 5);
  expect(got.recall).toBeCloseTo(r, 5);
  expect(got.fmeasure).toBeCloseTo(f, 5);
}

describe('rouge matches rouge-score’s published test values', () => {
  it('rouge1, rouge2, rougeL on small strings', () => {
    expectScore(
      rouge.score('testing one two', 'testing', { types: ['rouge1'] }).rouge1,
      1,
      1 / 3,
      1 / 2,
    );
    expectScore(
      rouge.score('testing one two', 'testing one', { types: ['rouge2'] }).rouge2,
      1,
      1 / 2,
      2 / 3,
    );
    expectScore(
      rouge.score('testing one two', 'testing one', { types: ['rougeL'] }).rougeL,
      1,
      2 / 3,
      4 / 5,
    );
    expectScore(
      rouge.score('testing one two', 'testing two', { types: ['rougeL'] }).rougeL,
      1,
      2 / 3,
      4 / 5,
    );
    const both = rouge.score('testing one two', 'testing one', { types: ['rouge1', 'rougeL'] });
    expect(Object.keys(both).sort()).toEqual(['rouge1', 'rougeL']);
  });

  it.each(['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const)(
    '%s of an empty prediction is 0',
    (type) => {
      expectScore(rouge.score('testing one two', '', { types: [type] })[type], 0, 0, 0);
    },
  );

  it('rejects invalid types', () => {
    for (const t of ['rougen', 'rouge0', 'rouge10']) {
      expect(() => rouge.score('a', 'a', { types: [t as 'rouge1'] })).toThrow(/invalid rouge type/);
    }
  });

  it('against ROUGE-1.5.5 without and with stemming', () => {
    const s = (i: number, stemmer: boolean) =>
      rouge.score(TARGETS[i]!, PREDICTIONS[i]!, { types: ['rouge1', 'rouge2', 'rougeL'], stemmer });
    expectScore(s(0, false).rouge1, 0.6875, 0.40741, 0.51163);
    expectScore(s(1, false).rouge1, 0.65385, 0.40476, 0.5);
    expectScore(s(0, true).rouge1, 0.6875, 0.40741, 0.51163);
    expectScore(s(1, true).rouge1, 0.69231, 0.42857, 0.52941);
    expectScore(s(0, false).rouge2, 0.53333, 0.30769, 0.39024);
    expectScore(s(1, false).rouge2, 0.48, 0.29268, 0.36364);
    expectScore(s(0, true).rouge2, 0.53333, 0.30769, 0.39024);
    expectScore(s(1, true).rouge2, 0.48, 0.29268, 0.36364);
    expectScore(s(0, false).rougeL, 0.6875, 0.40741, 0.51163);
    expectScore(s(1, false).rougeL, 0.65385, 0.40476, 0.5);
  });

  it('LCS read-back and summary-level LCS', () => {
    expect(lcsIndices(['1', '2', '3', '4', '5'], ['2', '5', '3', '4'])).toEqual([1, 2, 3]);
    expect(lcsIndices(['1', '2', '3', '4', '5'], ['8', '9'])).toEqual([]);
    const score = summaryLevelLcs(
      [['1', '2', '3', '4', '5']],
      [
        ['1', '2', '6', '7', '8'],
        ['1', '3', '8', '9', '5'],
      ],
    );
    expect(score.recall).toBe(0.8);
    expect(score.precision).toBe(0.4);
    expect(score.fmeasure).toBeCloseTo(0.5333, 3);
    expect(summaryLevelLcs([['reference']], [[]]).recall).toBe(0);
  });

  it('rougeLsum splits on newlines', () => {
    const r = rouge.score('w1 w2 w3 w4 w5', 'w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5', {
      types: ['rougeLsum'],
    }).rougeLsum;
    expectScore(r, 0.4, 0.8, 0.53333);
    for (const [t, p] of [
      ['w1 w2 w3 w4 w5', ''],
      ['', 'w1'],
      ['w1 w2 w3 w4 w5', '/'],
    ] as const) {
      expectScore(rouge.score(t, p, { types: ['rougeLsum'] }).rougeLsum, 0, 0, 0);
    }
  });

  it('scoreMulti keeps the target with the best F1 per type', () => {
    const r = rouge.scoreMulti(['the dog', 'the cat sat'], 'the cat sat down', {
      types: ['rouge1', 'rouge2'],
    });
    expectScore(r.rouge1, 3 / 4, 1, 6 / 7);
    expectScore(r.rouge2, 2 / 3, 1, 0.8);
  });

  it('tokenizes like rouge-score: lowercase ASCII alphanumerics only, stems tokens over 3 characters', () => {
    expect(rougeTokenize('Hello, WORLD! ça-va 3.14 naïve')).toEqual([
      'hello',
      'world',
      'a',
      'va',
      '3',
      '14',
      'na',
      've',
    ]);
    expect(rougeTokenize('The runners were running quickly', true)).toEqual([
      'the',
      'runner',
      'were',
      'run',
      'quickli',
    ]);
    // The Kelvin sign lowercases to an ASCII k in both Python and JavaScript.
    expect(rougeTokenize('\u212Aelvin')).toEqual(['kelvin']);
    expect(rougeTokenize('東京 2020')).toEqual(['2020']);
  });
});

describe('Porter stemmer matches NLTK (NLTK_EXTENSIONS)', () => {
  it.each(reference.porter.map((c) => [c.word, c.stem] as const))('%s -> %s', (word, stem) => {
    expect(porterStem(word)).toBe(stem);
  });
});
