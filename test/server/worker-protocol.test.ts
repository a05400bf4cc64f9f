import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseHash } from '../../evaluators/suite-runner.ts';
import { evaluations, jobs } from '../../server/db/schema/index.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evalCaseRows } from '../helpers/eval-cases.ts';

// A worker posting an evaluation's results was checked only for the NUMBER of cases: it could
// post made-up or swapped cases, and gates read those rows.
let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let evaluationId: string;
let workerToken: string;
const workerId = 'box:1:cpu0';

const rows = [
  { id: 'q1', input: 'What is 2+2?', expected: '4' },
  { id: 'q2', input: 'Capital of France?', expected: 'Paris' },
  { id: 'q3', input: 'Opposite of up?', expected: 'down' },
];
const hash = Object.fromEntries(rows.map((r) => [r.id, caseHash(r)]));
const score = { value: 1, low: 1, high: 1, confidence: 0.95, n: 3, metricVersion: '1' };

const post = (cases: { caseId: string; caseHash: string }[]) =>
  t.call(
    'POST',
    `/api/v1/evaluations/${evaluationId}/results`,
    {
      workerId,
      cases: cases.map((c) => ({ ...c, output: 'x', scores: { exact_match: 1 }, latencyMs: 1 })),
      aggregates: { exact_match: score },
      metricVersions: { exact_match: '1' },
    },
    workerToken,
  );
const honest = () => rows.map((r) => ({ caseId: r.id, caseHash: hash[r.id]! }));

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const s = await evalCaseRows(t, database, 'proto', rows);
  const [qa] = await s.suite('qa');
  const checkpoint = await s.checkpoint(null, null);
  evaluationId = await s.evaluation(checkpoint, qa!, {}, { status: 'queued' });
  // The evaluation's job, held by the worker as a claim would leave it.
  await database.db.insert(jobs).values({
    projectId: s.projectId,
    kind: 'evaluate',
    evaluationId,
    payload: {},
    status: 'running',
    workerId,
  });
  const minted = await t.call('POST', '/api/v1/tokens', {
    name: 'box',
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  workerToken = minted.json.token;
});
afterAll(() => database.drop());

describe('posting evaluation results', () => {
  it.each([
    [
      'an unknown case',
      () => [honest()[0]!, honest()[1]!, { caseId: 'q9', caseHash: hash.q3! }],
      /^cases\[2\]\.caseId: "q9" is not a case of suite qa@v1/,
    ],
    [
      'a case twice (and one left out)',
      () => [honest()[0]!, honest()[1]!, honest()[0]!],
      /^cases\[2\]\.caseId: case "q1" is sent twice; each case once/,
    ],
    [
      'swapped cases (ids on the other inputs)',
      () => [
        { caseId: 'q1', caseHash: hash.q2! },
        { caseId: 'q2', caseHash: hash.q1! },
        honest()[2]!,
      ],
      /^cases\[0\]\.caseHash: case "q1" has hash [0-9a-f]{64} in suite qa@v1, not [0-9a-f]{64}: results must be for the case's own input/,
    ],
    [
      'a made-up hash',
      () => [honest()[0]!, { caseId: 'q2', caseHash: 'a'.repeat(64) }, honest()[2]!],
      /^cases\[1\]\.caseHash: case "q2" has hash/,
    ],
    [
      'too few cases',
      () => honest().slice(0, 2),
      /^cases: the suite version has 3 cases, 2 were sent/,
    ],
  ])('refuses %s with a 400 naming the case', async (_, cases, message) => {
    const res = await post(cases());
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(message);
    const [row] = await database.db
      .select({ status: evaluations.status, caseCount: evaluations.caseCount })
      .from(evaluations)
      .where(eq(evaluations.id, evaluationId));
    expect(row).toEqual({ status: 'queued', caseCount: null });
  });

  it("stores exactly the suite version's cases, in any order, with their own hashes", async () => {
    const res = await post(honest().reverse());
    expect([res.status, res.text]).toEqual([200, '{}']);
    const stored = await t.call('GET', `/api/v1/evaluations/${evaluationId}`);
    expect(stored.json).toMatchObject({ status: 'finished', caseCount: 3 });
  });
});
