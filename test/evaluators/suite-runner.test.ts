import { describe, expect, it } from 'vitest';
import {
  bleu,
  caseHash,
  memoryCache,
  outputCacheKey,
  runSuite,
  type DecodingParams,
  type ModelHandle,
  type SuiteVersion,
} from '../../evaluators/index.ts';

/** A deterministic model under test: looks answers up, echoes the input otherwise. */
function lookupModel(answers: Record<string, string>) {
  const calls: string[][] = [];
  const model: ModelHandle = {
    checkpointSha256: 'a'.repeat(64),
    generate: async (inputs: string[], _decoding: DecodingParams) => {
      calls.push(inputs);
      return inputs.map((input) => ({ text: answers[input] ?? input }));
    },
  };
  return { model, calls };
}

const suite: SuiteVersion = {
  id: 'suite-v1',
  purpose: 'target',
  decoding: { temperature: 0, maxNewTokens: 32 },
  metrics: ['bleu', 'exact-match'],
  cases: [
    { id: 'c1', input: 'capital of France?', expected: 'Paris is the capital of France' },
    { id: 'c2', input: 'capital of Italy?', expected: ['Rome is the capital of Italy', 'Rome'] },
    { id: 'c3', input: 'largest planet?', expected: 'Jupiter is the largest planet' },
    { id: 'c4', input: 'red planet?', expected: 'Mars' },
    { id: 'c5', input: 'echo me', expected: 'echo me' },
  ],
};
const answers = {
  'capital of France?': 'Paris is the capital of France',
  'capital of Italy?': 'Rome',
  'largest planet?': 'Saturn is the largest planet',
  'red planet?': 'Mars',
};

describe('suite runner', () => {
  it('generates in batches, scores every case and aggregates with CIs', async () => {
    const { model, calls } = lookupModel(answers);
    let t = 0;
    const result = await runSuite({
      model,
      suite,
      cache: memoryCache(),
      batchSize: 2,
      now: () => (t += 10),
    });
    expect(calls.map((c) => c.length)).toEqual([2, 2, 1]);
    expect(result.generated).toBe(5);
    expect(result.cacheHits).toBe(0);
    expect(result.cases.map((c) => c.scores['exact-match'])).toEqual([1, 1, 0, 1, 1]);
    expect(result.cases[0]!.latencyMs).toBe(5);
    const expectedBleu = bleu.corpus(
      suite.cases.map((c) => answers[c.input as keyof typeof answers] ?? c.input),
      suite.cases.map((c) => (Array.isArray(c.expected) ? c.expected : [c.expected])),
    ).score;
    expect(result.aggregates.bleu!.value).toBe(expectedBleu);
    expect(result.aggregates['exact-match']!.value).toBe(0.8);
    for (const agg of Object.values(result.aggregates)) {
      expect(agg.low).toBeLessThanOrEqual(agg.value);
      expect(agg.high).toBeGreaterThanOrEqual(agg.value);
      expect(agg.confidence).toBe(0.95);
    }
    expect(result.metricVersions).toEqual({
      bleu: 'sacrebleu-2.6.0/1',
      'exact-match': 'squad-v1.1/1',
    });
    expect(result.aggregates.bleu!.metricVersion).toBe('sacrebleu-2.6.0/1');
  });

  it('re-scoring with a new metric generates nothing', async () => {
    const { model, calls } = lookupModel(answers);
    const cache = memoryCache();
    await runSuite({ model, suite, cache });
    const before = calls.length;
    const again = await runSuite({
      model,
      suite: { ...suite, metrics: ['chrf', 'rougeL', 'squad-f1'] },
      cache,
    });
    expect(calls.length).toBe(before);
    expect(again.generated).toBe(0);
    expect(again.cacheHits).toBe(5);
    expect(again.cases.every((c) => c.cached)).toBe(true);
    expect(Object.keys(again.aggregates).sort()).toEqual(['chrf', 'rougeL', 'squad-f1']);
  });

  it('keys the cache by checkpoint, case input and decoding parameters', async () => {
    const { model, calls } = lookupModel(answers);
    const cache = memoryCache();
    await runSuite({ model, suite, cache });
    await runSuite({
      model,
      suite: { ...suite, decoding: { maxNewTokens: 32, temperature: 0 } },
      cache,
    });
    expect(calls.flat().length).toBe(5);
    await runSuite({
      model,
      suite: { ...suite, decoding: { temperature: 0.7, maxNewTokens: 32 } },
      cache,
    });
    expect(calls.flat().length).toBe(10);
    await runSuite({ model: { ...model, checkpointSha256: 'b'.repeat(64) }, suite, cache });
    expect(calls.flat().length).toBe(15);
    const c = suite.cases[0]!;
    expect(caseHash({ ...c, id: 'other', expected: 'changed' })).toBe(caseHash(c));
    expect(outputCacheKey('x', caseHash(c), { a: 1, b: 2 })).toBe(
      outputCacheKey('x', caseHash(c), { b: 2, a: 1 }),
    );
  });

  it('rejects unknown metrics and a model that returns the wrong number of outputs', async () => {
    const { model } = lookupModel(answers);
    await expect(
      runSuite({ model, suite: { ...suite, metrics: ['nope' as 'bleu'] }, cache: memoryCache() }),
    ).rejects.toThrow(/unknown metric nope; use one of bleu/);
    const broken: ModelHandle = { ...model, generate: async () => [] };
    await expect(runSuite({ model: broken, suite, cache: memoryCache() })).rejects.toThrow(
      /0 generations for/,
    );
  });
});
