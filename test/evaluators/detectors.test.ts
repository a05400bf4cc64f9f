import { describe, expect, it } from 'vitest';
import {
  backwardTransfer,
  chaudhryForgetting,
  contaminationWords,
  detectContamination,
  detectForgetting,
  detectOverfitting,
  detectors,
  memorisationProbes,
  memorisationRate,
  mulberry32,
  runForgetting,
  type CaseScore,
  type DetectorKind,
  type Finding,
} from '../../evaluators/index.ts';

const curve = (values: number[], step = 100) =>
  values.map((value, i) => ({ step: step * (i + 1), value }));
const serialisable = (f: Finding | undefined) =>
  expect(JSON.parse(JSON.stringify(f?.evidence))).toEqual(f?.evidence);

describe('detectors registry', () => {
  it('has exactly one function per detector kind', () => {
    const kinds: DetectorKind[] = ['overfitting', 'forgetting', 'memorisation', 'contamination'];
    expect(Object.keys(detectors).sort()).toEqual([...kinds].sort());
    for (const k of kinds) expect(typeof detectors[k]).toBe('function');
    expect(detectors.overfitting).toBe(detectOverfitting);
  });
});

describe('overfitting', () => {
  // Training falls 2 → 0.8; validation bottoms out at step 200 (1.8) and then rises 3 times.
  const train = curve([2, 1.7, 1.4, 1.1, 0.8]);
  const validation = curve([2.1, 1.8, 1.9, 2.0, 2.2]);

  it('flags validation rising for `patience` evaluations while training falls', () => {
    const r = detectOverfitting({ train, validation });
    expect(r.bestStep).toBe(200);
    expect(r.bestValue).toBe(1.8);
    expect(r.gap.atBest).toBeCloseTo(1.8 - 1.7, 12);
    expect(r.gap.atLast).toBeCloseTo(2.2 - 0.8, 12);
    expect(r.finding?.detector).toBe('overfitting');
    expect(r.finding?.severity).toBe('warn');
    expect(r.finding?.evidence).toMatchObject({
      bestStep: 200,
      referenceStep: 200,
      beganAtStep: 300,
      lastStep: 500,
      evaluationsWithoutImprovement: 3,
      trainLossAtReference: 1.7,
      trainLossAtLast: 0.8,
      patience: 3,
    });
    expect(r.finding?.summary).toContain('since step 200');
    expect(r.finding?.summary).toContain('best checkpoint is step 200');
    serialisable(r.finding);
  });

  it('needs `patience` evaluations after the best (boundary) and falling training loss', () => {
    const notYet = detectOverfitting({ train, validation, patience: 4 });
    expect(notYet.finding).toBeUndefined();
    expect(notYet.bestStep).toBe(200);
    expect(detectOverfitting({ train, validation, patience: 2 }).finding?.evidence).toMatchObject({
      evaluationsWithoutImprovement: 3,
      beganAtStep: 300,
    });
    // Both curves rising: underfitting/divergence, not overfitting.
    const rising = curve([1.0, 1.1, 1.2, 1.3, 1.4]);
    expect(detectOverfitting({ train: rising, validation }).finding).toBeUndefined();
  });

  it('minDelta: tiny improvements do not reset patience, bestStep is still the lowest', () => {
    const slow = curve([2.0, 1.5, 1.49, 1.48, 1.47]);
    const r = detectOverfitting({ train, validation: slow, minDelta: 0.05 });
    expect(r.bestStep).toBe(500);
    expect(r.finding?.evidence).toMatchObject({ referenceStep: 200, beganAtStep: 300 });
    expect(detectOverfitting({ train, validation: slow }).finding).toBeUndefined();
  });

  it('averages training loss logged since the previous evaluation; sorts by step', () => {
    const r = detectOverfitting({
      train: [
        { step: 100, value: 1 },
        { step: 50, value: 3 },
        { step: 150, value: 0.5 },
      ],
      validation: [
        { step: 200, value: 1.5 },
        { step: 100, value: 2.5 },
      ],
    });
    // At 100: mean(3, 1) = 2 → gap 0.5. At 200: only 0.5 logged in (100, 200] → gap 1.
    expect(r.bestStep).toBe(200);
    expect(r.gap).toEqual({ atBest: 1, atLast: 1 });
  });

  it('empty and short curves: no finding, no crash', () => {
    expect(detectOverfitting({ train: [], validation: [] })).toEqual({
      bestStep: null,
      bestValue: null,
      gap: { atBest: null, atLast: null },
    });
    expect(detectOverfitting({ train, validation: curve([1, 2]) }).finding).toBeUndefined();
    const noTrain = detectOverfitting({ train: [], validation });
    expect(noTrain.finding).toBeUndefined();
    expect(noTrain.gap).toEqual({ atBest: null, atLast: null });
    expect(
      detectOverfitting({ train, validation: [{ step: 100, value: Number.NaN }] }).bestStep,
    ).toBeNull();
  });
});

describe('forgetting', () => {
  const cases = (scores: number[], prefix = 'c'): CaseScore[] =>
    scores.map((s, i) => ({ id: `${prefix}${i}`, score: s, passed: s >= 0.5 }));
  // 20 cases the base passes; the candidate fails c0..c7 (drop 8/20 = 0.4).
  const base = cases(Array(20).fill(1));
  const candidate = cases([...Array(8).fill(0), ...Array(12).fill(1)]).reverse();

  it('blocks a drop whose CI lies above the tolerance, listing pass→fail flips', () => {
    const r = detectForgetting({ suite: 'retention-qa', base, candidate });
    expect(r.base.compared).toBe(20);
    expect(r.base.drop).toBeCloseTo(0.4, 12);
    expect([r.base.referenceMean, r.base.candidateMean]).toEqual([1, 0.6]);
    expect(r.base.low).toBeGreaterThan(0);
    expect(r.base.high).toBeLessThanOrEqual(1);
    expect(r.base.low).toBeLessThan(0.4);
    expect(r.base.pValue).toBeLessThan(0.05);
    // In the candidate's order (reversed).
    expect(r.base.passToFail).toEqual(['c7', 'c6', 'c5', 'c4', 'c3', 'c2', 'c1', 'c0']);
    expect(r.base.failToPass).toEqual([]);
    expect(r.base.mcnemar).toMatchObject({ b: 8, c: 0, n: 20 });
    expect(r.base.mcnemar?.pValue).toBeCloseTo(2 / 2 ** 8, 12);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]?.severity).toBe('block');
    expect(r.findings[0]?.summary).toContain('retention-qa');
    expect(r.findings[0]?.evidence).toMatchObject({ against: 'base', compared: 20, tolerance: 0 });
    serialisable(r.findings[0]);
    // Seeded: the same input gives the same CI.
    expect(detectForgetting({ suite: 'retention-qa', base, candidate })).toEqual(r);
  });

  it('warns when only the point drop exceeds the tolerance, nothing when within it', () => {
    const warn = detectForgetting({ suite: 's', base, candidate, tolerance: 0.3 });
    expect(warn.base.low).toBeLessThanOrEqual(0.3);
    expect(warn.findings.map((f) => f.severity)).toEqual(['warn']);
    const fine = detectForgetting({ suite: 's', base, candidate, tolerance: 0.4 });
    expect(fine.base.severity).toBeNull();
    expect(fine.findings).toEqual([]);
  });

  it('aligns by id, ignores unmatched ids, and compares with the champion too', () => {
    const b = [...cases([1, 0, 1]), { id: 'only-base', score: 1, passed: true }];
    const cand = [
      { id: 'only-candidate', score: 0, passed: false },
      { id: 'c2', score: 1, passed: true },
      { id: 'c1', score: 1, passed: true },
      { id: 'c0', score: 0, passed: false },
    ];
    const champion = cases([1, 1, 1]);
    const r = detectForgetting({ suite: 's', base: b, candidate: cand, champion });
    expect([r.base.compared, r.base.ignored]).toEqual([3, 2]);
    expect(r.base.drop).toBeCloseTo(2 / 3 - 2 / 3, 12);
    expect(r.base.pValue).toBe(1);
    expect(r.base.passToFail).toEqual(['c0']);
    expect(r.base.failToPass).toEqual(['c1']);
    expect(r.champion?.compared).toBe(3);
    expect(r.champion?.passToFail).toEqual(['c0']);
    expect(r.champion?.failToPass).toEqual([]);
    expect(r.champion?.drop).toBeCloseTo(1 / 3, 12);
    // One regression in three cases: beyond tolerance 0, but the CI reaches 0.
    expect(r.champion?.low).toBe(0);
    expect(r.findings.map((f) => [f.evidence.against, f.severity])).toEqual([['champion', 'warn']]);
  });

  it('scores without pass/fail, improvements, empty input and duplicate ids', () => {
    const unscored = (xs: number[]) => xs.map((score, i) => ({ id: `${i}`, score, passed: null }));
    const r = detectForgetting({
      suite: 's',
      base: unscored([0.5, 0.5]),
      candidate: unscored([0.25, 0.75]),
    });
    expect(r.base.mcnemar).toBeNull();
    expect(r.base.passToFail).toEqual([]);
    expect(r.base.drop).toBe(0);
    const better = detectForgetting({ suite: 's', base: candidate, candidate: base });
    expect(better.base.drop).toBeCloseTo(-0.4, 12);
    expect(better.base.failToPass).toHaveLength(8);
    expect(better.findings).toEqual([]);
    const empty = detectForgetting({ suite: 's', base: [], candidate: base });
    expect(empty.base.compared).toBe(0);
    expect(empty.findings).toEqual([]);
    expect(() => detectForgetting({ suite: 's', base: [...base, base[0]!], candidate })).toThrow(
      /duplicate case id "c0"/,
    );
  });

  it('backward transfer and Chaudhry forgetting, by hand', () => {
    const acc = [
      [0.9, 0.1, 0.2],
      [0.95, 0.8, 0.1],
      [0.6, 0.7, 0.9],
    ];
    // BWT = ((0.6 - 0.9) + (0.7 - 0.8)) / 2 = -0.2 (uses acc[j][j], not the best earlier score).
    expect(backwardTransfer(acc)).toBeCloseTo(-0.2, 12);
    // Forgetting = ((max(0.9, 0.95) - 0.6) + (max(0.1, 0.8) - 0.7)) / 2 = (0.35 + 0.1) / 2 = 0.225.
    expect(chaudhryForgetting(acc)).toBeCloseTo(0.225, 12);
    // Positive transfer: the later stage helped task 0.
    expect(
      backwardTransfer([
        [0.5, 0],
        [0.7, 0.9],
      ]),
    ).toBeCloseTo(0.2, 12);
    expect(
      chaudhryForgetting([
        [0.5, 0],
        [0.7, 0.9],
      ]),
    ).toBeCloseTo(-0.2, 12);
    expect(backwardTransfer([[0.5]])).toBeNaN();
    expect(chaudhryForgetting([])).toBeNaN();
    expect(() => backwardTransfer([[1, 2], [3]])).toThrow(/acc\[1\]/);
  });
});

describe('memorisation', () => {
  it('builds probes from long enough texts, in order, up to a limit', () => {
    const texts = ['abcdefgh', 'abc', 'ABCDEFGHIJ'];
    expect(memorisationProbes(texts, { prefixChars: 3, suffixChars: 4 })).toEqual([
      { index: 0, prefix: 'abc', suffix: 'defg' },
      { index: 2, prefix: 'ABC', suffix: 'DEFG' },
    ]);
    expect(memorisationProbes(texts, { prefixChars: 3, suffixChars: 4, limit: 1 })).toHaveLength(1);
    // Exactly prefix + suffix characters is enough; one fewer is not.
    expect(memorisationProbes(['abcdefg', 'abcdef'], { prefixChars: 3, suffixChars: 4 })).toEqual([
      { index: 0, prefix: 'abc', suffix: 'defg' },
    ]);
    // Code points: the emoji is never split.
    expect(memorisationProbes(['😀😀😀ab'], { prefixChars: 2, suffixChars: 2 })).toEqual([
      { index: 0, prefix: '😀😀', suffix: '😀a' },
    ]);
    expect(memorisationProbes(['x'.repeat(150), 'x'.repeat(149)])).toHaveLength(1);
    expect(memorisationProbes([])).toEqual([]);
  });

  it('counts exact reproductions of the suffix', () => {
    const results = [
      { index: 10, prefix: 'ab', suffix: 'cde', continuation: 'cde' },
      { index: 11, prefix: 'ab', suffix: 'cde', continuation: 'cdefgh' },
      { index: 12, prefix: 'ab', suffix: 'cde', continuation: 'cd' },
      { index: 13, prefix: 'ab', suffix: 'cde', continuation: ' cde' },
      { prefix: 'ab', suffix: '', continuation: 'anything' },
    ];
    const r = memorisationRate(results);
    expect([r.rate, r.memorised, r.total]).toEqual([0.5, 2, 4]);
    expect(r.memorisedIndices).toEqual([10, 11]);
    expect(r.finding?.severity).toBe('warn');
    expect(r.finding?.summary).toContain('2 of 4');
    serialisable(r.finding);
    // At the threshold is not above it.
    expect(memorisationRate(results, { threshold: 0.5 }).finding?.severity).toBe('info');
    // Without an index the position is reported.
    expect(
      memorisationRate([{ prefix: 'a', suffix: 'b', continuation: 'b' }]).memorisedIndices,
    ).toEqual([0]);
    const none = memorisationRate([]);
    expect(none.rate).toBeNaN();
    expect(none.finding).toBeUndefined();
  });
});

describe('contamination', () => {
  const training = [
    'Once upon a time, in a land far away, there lived a wise old king who ruled.',
    'Unrelated training text about gradient descent and learning rates.',
  ];
  const cases = [
    // 15 words; its first 13 appear in the first training row: 1 of 3 grams.
    { id: 'a', text: 'In a land far away there lived a wise old king who ruled with kindness' },
    { id: 'b', text: 'What is the derivative of x squared with respect to x when x equals two?' },
    // 8 words, verbatim: used whole (minWords 8).
    { id: 'c', text: 'THERE LIVED A WISE OLD KING WHO RULED' },
    // 6 words: too short to judge.
    { id: 'd', text: 'a wise old king who ruled' },
    // 13 words, one changed: clean.
    { id: 'e', text: 'in a land far away there lived a wise young king who ruled' },
  ];

  it('splits words like the GPT-3 overlap check', () => {
    expect(contaminationWords("It's 13-gram TIME!  Ünïcode_ok")).toEqual([
      'it',
      's',
      '13',
      'gram',
      'time',
      'ünïcode',
      'ok',
    ]);
    expect(contaminationWords(' ... ')).toEqual([]);
  });

  it('finds contaminated cases, overlap fractions and scores with and without them', () => {
    const r = detectContamination({
      training,
      cases,
      caseScores: { a: 1, b: 0.5, c: 1, d: 0, unknown: 7 },
    });
    expect(r.contaminated).toEqual([
      { id: 'a', overlap: 1 / 3, matchedGrams: 1, grams: 3 },
      { id: 'c', overlap: 1, matchedGrams: 1, grams: 1 },
    ]);
    expect(r.tooShort).toEqual(['d']);
    expect(r.checked).toBe(4);
    expect(r.scores).toEqual({
      all: { mean: 0.625, n: 4 },
      clean: { mean: 0.25, n: 2 },
      contaminated: { mean: 1, n: 2 },
    });
    expect(r.finding?.severity).toBe('warn');
    expect(r.finding?.summary).toContain('2 of 5 cases (40%)');
    expect(r.finding?.evidence).toMatchObject({ contaminatedIds: ['a', 'c'], tooShort: ['d'] });
    serialisable(r.finding);
  });

  it('minWords and n are boundaries; grams never span two training rows', () => {
    const strict = detectContamination({ training, cases, minWords: 9 });
    expect(strict.contaminated.map((c) => c.id)).toEqual(['a']);
    expect(strict.tooShort).toEqual(['c', 'd']);
    const trigrams = detectContamination({ training, cases: [cases[3]!], n: 3 });
    expect(trigrams.contaminated).toEqual([{ id: 'd', overlap: 1, matchedGrams: 4, grams: 4 }]);
    const split = detectContamination({
      training: ['alpha beta gamma', 'delta epsilon'],
      cases: [
        { id: 'x', text: 'gamma delta epsilon' },
        { id: 'y', text: 'beta gamma' },
      ],
      n: 2,
    });
    expect(split.contaminated).toEqual([
      { id: 'x', overlap: 0.5, matchedGrams: 1, grams: 2 },
      { id: 'y', overlap: 1, matchedGrams: 1, grams: 1 },
    ]);
  });

  it('empty inputs and duplicate ids', () => {
    expect(detectContamination({ training: [], cases }).contaminated).toEqual([]);
    const none = detectContamination({ training, cases: [], caseScores: {} });
    expect(none.finding).toBeUndefined();
    expect(none.scores?.all).toEqual({ mean: null, n: 0 });
    expect(() => detectContamination({ training, cases: [cases[0]!, cases[0]!] })).toThrow(
      /duplicate/,
    );
  });

  it('agrees with a naive set of training 13-grams on thousands of rows', () => {
    const rng = mulberry32(7);
    const vocab = Array.from({ length: 400 }, (_, i) => `w${i}`);
    const sentence = (len: number) =>
      Array.from({ length: len }, () => vocab[Math.floor(rng() * vocab.length)]).join(' ');
    const rows = Array.from({ length: 4000 }, () => sentence(20 + Math.floor(rng() * 60)));
    const planted = new Set<string>();
    const suite = Array.from({ length: 300 }, (_, i) => {
      const id = `case-${i}`;
      if (i % 7 !== 0) return { id, text: sentence(10 + Math.floor(rng() * 30)) };
      // Copy 13..20 words of a training row into the middle of a fresh case.
      planted.add(id);
      const words = rows[Math.floor(rng() * rows.length)]!.split(' ');
      const len = 13 + Math.floor(rng() * 8);
      const at = Math.floor(rng() * (words.length - len));
      const copied = words
        .slice(at, at + len)
        .join(' ')
        .toUpperCase();
      return { id, text: `${sentence(3)}, ${copied}; ${sentence(4)}` };
    });
    const r = detectContamination({ training: rows, cases: suite });

    const grams = (words: string[], k: number) =>
      Array.from({ length: Math.max(0, words.length - k + 1) }, (_, i) =>
        words.slice(i, i + k).join(' '),
      );
    const trainingGrams = new Set(rows.flatMap((t) => grams(contaminationWords(t), 13)));
    const expected = suite.flatMap((c) => {
      const words = contaminationWords(c.text);
      const own =
        words.length >= 13 ? grams(words, 13) : words.length >= 8 ? [words.join(' ')] : [];
      const hits = own.filter((g) =>
        g.split(' ').length === 13
          ? trainingGrams.has(g)
          : rows.some((t) => ` ${t.toLowerCase()} `.includes(` ${g} `)),
      ).length;
      return hits > 0
        ? [{ id: c.id, overlap: hits / own.length, matchedGrams: hits, grams: own.length }]
        : [];
    });
    expect(r.contaminated).toEqual(expected);
    for (const id of planted) expect(r.contaminated.map((c) => c.id)).toContain(id);
    expect(r.contaminated.length).toBeGreaterThanOrEqual(planted.size);
  });
});

describe('runForgetting: across a run whose base had every skill', () => {
  it('averages the final change from the base and the loss from each suite best', () => {
    // suite 0: 0.9 -> 0.7 -> 0.3 (bwt -0.6, lost 0.6 from its best); suite 1: 0.8 -> 0.9 -> 0.6
    // (bwt -0.2, lost 0.3 from its best 0.9).
    const r = runForgetting([
      [0.9, 0.8],
      [0.7, 0.9],
      [0.3, 0.6],
    ]);
    expect(r.suites).toBe(2);
    expect(r.backwardTransfer).toBeCloseTo(-0.4, 12);
    expect(r.chaudhryForgetting).toBeCloseTo(0.45, 12);
  });
  it('leaves out suites without a final score and needs two stages', () => {
    expect(
      runForgetting([
        [0.5, 0.5],
        [0.4, Number.NaN],
      ]),
    ).toEqual({
      backwardTransfer: expect.closeTo(-0.1, 12),
      chaudhryForgetting: expect.closeTo(0.1, 12),
      suites: 1,
    });
    expect(runForgetting([[0.5]]).suites).toBe(0);
    expect(() => runForgetting([[0.5, 0.1], [0.4]])).toThrow('rectangular');
  });
});
