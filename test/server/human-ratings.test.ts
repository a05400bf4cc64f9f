import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapCi } from '../../evaluators/stats/bootstrap.ts';
import { caseHash } from '../../evaluators/suite-runner.ts';
import { recordEvaluation } from '../../server/services/evaluations.ts';
import { ratedPairs } from '../../server/services/rating-preferences.ts';
import { blobStoreFor } from '../../server/storage/fs-blob-store.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evalCaseRows } from '../helpers/eval-cases.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
const ids = {} as Record<'a' | 'b' | 'c' | 'v2' | 'rerun', string>;
let readToken: string;
let writeToken: string;
let foreignWriter: string;

const rows = [
  { id: 'q1', input: 'in-q1', expected: 'exp-q1' },
  { id: 'q2', input: 'in-q2', expected: 'exp-q2' },
  { id: 'q3', input: 'in-q3', expected: 'exp-q3' },
];

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const s = await evalCaseRows(t, database, 'rated', rows);
  const [qa1, qa2] = await s.suite('qa', 2);
  const run = await s.run('sft');
  const [c1, c2, c3] = [
    await s.checkpoint(run, 1),
    await s.checkpoint(run, 2),
    await s.checkpoint(run, 3),
  ];
  const cases = (p: string) =>
    ({ q1: [`${p}1`, 1], q2: [`${p}2`, 0], q3: [`${p}3`, 0] }) as Record<string, [string, number]>;
  ids.a = await s.evaluation(c1!, qa1!, cases('A'));
  ids.b = await s.evaluation(c2!, qa1!, cases('B'));
  // c's q2 says what a's does: a pair of equal outputs teaches nothing.
  ids.c = await s.evaluation(c3!, qa1!, { ...cases('C'), q2: ['A2', 0] });
  ids.v2 = await s.evaluation(c1!, qa2!, cases('V'));
  ids.rerun = await s.evaluation(c2!, qa2!, cases('R'));
  readToken = await s.token('read');
  writeToken = await s.token('write', 'ana-laptop');
  const other = await evalCaseRows(t, database, 'other', rows);
  foreignWriter = await other.token('write');
});
afterAll(() => database.drop());

const rate = (evaluationId: string, caseId: string, body: unknown, token?: string | null) =>
  t.call('PUT', `/api/v1/evaluations/${evaluationId}/cases/${caseId}/rating`, body, token);
const unrate = (evaluationId: string, caseId: string, annotator: string, token?: string | null) =>
  t.call(
    'DELETE',
    `/api/v1/evaluations/${evaluationId}/cases/${caseId}/rating?annotator=${annotator}`,
    undefined,
    token,
  );
const aggregatesOf = async (id: string) =>
  (await t.call('GET', `/api/v1/evaluations/${id}`)).json.aggregates;

describe('rating cases', () => {
  it('averages annotators per case, then cases, into the human_rating aggregate', async () => {
    const first = await rate(ids.a, 'q1', { rating: 4, annotator: 'ana' });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      evaluationId: ids.a,
      caseId: 'q1',
      annotator: 'ana',
      rating: 4,
      case: { mean: 4, n: 1 },
      humanRating: { value: 4, low: 4, high: 4, n: 1, confidence: 0.95, metricVersion: 'human-1' },
    });
    await rate(ids.a, 'q1', { rating: 2, annotator: 'bo' });
    const third = await rate(ids.a, 'q2', { rating: 5, annotator: 'ana' });
    expect(third.json.case).toEqual({ mean: 5, n: 1 });
    const ci = bootstrapCi([3, 5]);
    expect(third.json.humanRating).toMatchObject({ value: 4, low: ci.low, high: ci.high, n: 2 });
    // Stored beside the metrics, which leave it alone.
    const aggregates = await aggregatesOf(ids.a);
    expect(aggregates.human_rating).toEqual(third.json.humanRating);
    expect(aggregates.exact_match.value).toBe(0.5);
  });

  it("replaces an annotator's earlier rating, and shows it with the cases", async () => {
    const again = await rate(ids.a, 'q1', { rating: 1, annotator: 'ana' });
    expect(again.json.case).toEqual({ mean: 1.5, n: 2 });
    const cases = (await t.call('GET', `/api/v1/evaluations/${ids.a}/cases`)).json.cases;
    expect(cases[0]).toMatchObject({
      caseId: 'q1',
      humanRating: { mean: 1.5, n: 2 },
      // Per case too, where gate checks read scores by metric name.
      scores: { exact_match: 1, human_rating: 1.5 },
    });
    expect(cases[2].humanRating).toBeNull();
  });

  it("rates as the token's name when no annotator is given", async () => {
    const res = await rate(ids.b, 'q3', { rating: 3 }, writeToken);
    expect(res.status).toBe(200);
    expect(res.json.annotator).toMatch(/^ana-laptop#\d+$/);
    const removed = await t.call(
      'DELETE',
      `/api/v1/evaluations/${ids.b}/cases/q3/rating`,
      undefined,
      writeToken,
    );
    expect(removed.status).toBe(200);
    expect(removed.json).toMatchObject({ case: null, humanRating: null });
    expect((await aggregatesOf(ids.b)).human_rating).toBeUndefined();
  });

  it('removes a rating and recomputes; a second removal is a 404', async () => {
    await rate(ids.c, 'q1', { rating: 5, annotator: 'ana' });
    await rate(ids.c, 'q1', { rating: 3, annotator: 'bo' });
    const res = await unrate(ids.c, 'q1', 'bo');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ case: { mean: 5, n: 1 }, humanRating: { value: 5, n: 1 } });
    const missing = await unrate(ids.c, 'q1', 'bo');
    expect(missing.status).toBe(404);
    expect(missing.json.error.message).toMatch(/^annotator: .*"q1".*"bo"/);
    await unrate(ids.c, 'q1', 'ana');
    expect((await aggregatesOf(ids.c)).human_rating).toBeUndefined();
    const [q1] = (await t.call('GET', `/api/v1/evaluations/${ids.c}/cases?limit=1`)).json.cases;
    expect(q1.scores).toEqual({ exact_match: 1 });
  });

  it('keeps ratings when a worker writes the evaluation again (a retried job)', async () => {
    await rate(ids.rerun, 'q3', { rating: 2, annotator: 'ana' });
    const before = (await aggregatesOf(ids.rerun)).human_rating;
    const score = { value: 0, low: 0, high: 0, confidence: 0.95, n: 3, metricVersion: 'x' };
    await recordEvaluation(database.db, blobStoreFor(t.config.dataDir), ids.rerun, {
      workerId: 'w',
      cases: rows.map((r) => ({
        caseId: r.id,
        caseHash: caseHash(r),
        output: 'again',
        scores: { exact_match: 0 },
        latencyMs: 1,
      })),
      aggregates: { exact_match: score },
      metricVersions: { exact_match: 'x' },
    });
    const after = await aggregatesOf(ids.rerun);
    expect(after.exact_match.value).toBe(0);
    expect(after.human_rating).toEqual(before);
    const cases = await t.call('GET', `/api/v1/evaluations/${ids.rerun}/cases`);
    const q3 = cases.json.cases.find((c: { caseId: string }) => c.caseId === 'q3');
    expect([q3.output, q3.scores.human_rating, q3.humanRating]).toEqual([
      'again',
      2,
      { mean: 2, n: 1 },
    ]);
  });

  it('names the bad field', async () => {
    for (const [body, field] of [
      [{ rating: 6 }, 'rating'],
      [{ rating: 0 }, 'rating'],
      [{ rating: 2.5 }, 'rating'],
      [{}, 'rating'],
      [{ rating: 3, annotator: '  ' }, 'annotator'],
    ] as const) {
      const res = await rate(ids.a, 'q1', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.message, JSON.stringify(body)).toMatch(new RegExp(`^${field}:`));
    }
    const unknownCase = await rate(ids.a, 'q99', { rating: 3 });
    expect(unknownCase.status).toBe(404);
    expect(unknownCase.json.error.message).toContain('"q99"');
    const unknownEvaluation = await rate('00000000-0000-4000-8000-000000000000', 'q1', {
      rating: 3,
    });
    expect(unknownEvaluation.status).toBe(404);
  });

  it('needs a write token of the project', async () => {
    expect((await rate(ids.a, 'q1', { rating: 3 }, null)).status).toBe(401);
    const read = await rate(ids.a, 'q1', { rating: 3 }, readToken);
    expect(read.status).toBe(403);
    expect(read.json.error.message).toContain('write');
    expect((await rate(ids.a, 'q1', { rating: 3 }, foreignWriter)).status).toBe(403);
    expect((await unrate(ids.a, 'q1', 'ana', readToken)).status).toBe(403);
  });
});

describe('POST /projects/{project}/human-ratings/preferences', () => {
  it('pairs every differently rated pair of different outputs of a case, best first', () => {
    expect(
      ratedPairs([
        { caseId: 'x', mean: 2, output: 'low' },
        { caseId: 'x', mean: 4, output: 'high' },
        { caseId: 'x', mean: 4, output: 'tie' },
        { caseId: 'x', mean: 1, output: 'high' },
        { caseId: 'y', mean: 5, output: 'alone' },
      ]),
    ).toEqual([
      { caseId: 'x', chosen: 'high', rejected: 'low' },
      { caseId: 'x', chosen: 'tie', rejected: 'low' },
      { caseId: 'x', chosen: 'tie', rejected: 'high' },
      { caseId: 'x', chosen: 'low', rejected: 'high' },
    ]);
  });

  it('records a preference per differently rated pair, once', async () => {
    // a's q1 is rated 1.5 (ana 1, bo 2), a's q2 5, from the tests above.
    await rate(ids.b, 'q1', { rating: 4, annotator: 'ana' });
    await rate(ids.b, 'q2', { rating: 5, annotator: 'ana' }); // equal to a's: no pair
    await rate(ids.c, 'q2', { rating: 1, annotator: 'ana' }); // c's output equals a's: only b > c
    await rate(ids.v2, 'q1', { rating: 5, annotator: 'ana' }); // another suite version
    const path = '/api/v1/projects/rated/human-ratings/preferences';
    const res = await t.call('POST', path, { suite: 'qa', suiteVersion: 1 }, writeToken);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      suite: 'qa',
      suiteVersion: 1,
      annotator: 'human-ratings:qa@v1',
      pairs: 2,
      recorded: 2,
      alreadyRecorded: 0,
      withoutInput: 0,
    });
    const recorded = (await t.call('GET', '/api/v1/projects/rated/preferences')).json.preferences;
    expect(
      recorded.map((p: { prompt: string; responses: string[] }) => [p.prompt, p.responses]),
    ).toEqual(
      expect.arrayContaining([
        ['in-q1', ['B1', 'A1']],
        ['in-q2', ['B2', 'A2']],
      ]),
    );
    expect(recorded).toHaveLength(2);
    const again = await t.call('POST', path, { suite: 'qa', suiteVersion: 1 });
    expect(again.json).toMatchObject({ pairs: 2, recorded: 0, alreadyRecorded: 2 });
    expect(
      (await t.call('GET', '/api/v1/projects/rated/preferences')).json.preferences,
    ).toHaveLength(2);
    // The newest version by default: only v2's evaluation is rated there, so nothing to pair.
    expect((await t.call('POST', path, { suite: 'qa' })).json).toMatchObject({
      suiteVersion: 2,
      pairs: 0,
      recorded: 0,
    });
  });

  it('names what is wrong and needs a write token', async () => {
    const path = '/api/v1/projects/rated/human-ratings/preferences';
    const unknown = await t.call('POST', path, { suite: 'nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.message).toContain('"nope"');
    const version = await t.call('POST', path, { suite: 'qa', suiteVersion: 9 });
    expect(version.status).toBe(404);
    expect(version.json.error.message).toMatch(/^suiteVersion:/);
    const missing = await t.call('POST', path, {});
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toMatch(/^suite:/);
    expect((await t.call('POST', path, { suite: 'qa' }, readToken)).status).toBe(403);
    expect((await t.call('POST', path, { suite: 'qa' }, null)).status).toBe(401);
  });
});
