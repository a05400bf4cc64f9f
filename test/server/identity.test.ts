import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evalCaseRows } from '../helpers/eval-cases.ts';

// Who rated and who ranked come from the token: a project write token once overwrote and deleted
// another rater's ratings, and so flipped a human_rating gate from fail to pass.
let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let evaluationId: string;
let ana: string;
let mallory: string;
let anaIs: string;

const RULE =
  /^annotator: only an admin may rate for someone else; this token rates as "mallory#\d+"/;
const rows = [
  { id: 'q1', input: 'in-q1', expected: 'exp-q1' },
  { id: 'q2', input: 'in-q2', expected: 'exp-q2' },
];
const ratingPath = (caseId: string, annotator?: string) =>
  `/api/v1/evaluations/${evaluationId}/cases/${caseId}/rating${
    annotator === undefined ? '' : `?annotator=${encodeURIComponent(annotator)}`
  }`;
const rate = (caseId: string, body: object, token: string) =>
  t.call('PUT', ratingPath(caseId), body, token);
const ratingsOf = async () =>
  Object.fromEntries(
    (await t.call('GET', `/api/v1/evaluations/${evaluationId}/cases`)).json.cases.map(
      (c: { caseId: string; humanRating: unknown }) => [c.caseId, c.humanRating],
    ),
  );
const verdict = async () =>
  (
    await t.call('POST', '/api/v1/projects/ident/gates/humans/verdicts', {
      model: 'bot',
      version: 1,
    })
  ).json;

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const s = await evalCaseRows(t, database, 'ident', rows);
  const [qa] = await s.suite('qa');
  const checkpoint = await s.checkpoint(await s.run('sft'), 1);
  evaluationId = await s.evaluation(checkpoint, qa!, { q1: ['A1', 1], q2: ['A2', 0] });
  ana = await s.token('write', 'ana');
  mallory = await s.token('write', 'mallory');
  await t.call('POST', '/api/v1/projects/ident/models', { name: 'bot' });
  const version = await t.call('POST', '/api/v1/projects/ident/models/bot/versions', {
    checkpointId: checkpoint,
  });
  if (version.status !== 201) throw new Error(`version: ${version.text}`);
  const gate = await t.call('POST', '/api/v1/projects/ident/gates', {
    name: 'humans',
    policy: { kind: 'threshold', suite: 'qa', metric: 'human_rating', min: 4 },
  });
  if (gate.status !== 201) throw new Error(`gate: ${gate.text}`);
  // Ana rates both outputs badly: the gate fails.
  const first = await rate('q1', { rating: 1 }, ana);
  anaIs = first.json.annotator;
  await rate('q2', { rating: 1 }, ana);
});
afterAll(() => database.drop());

describe('ratings are by the token that sends them', () => {
  it('names the annotator from the token: name#id, unique per token', async () => {
    expect(anaIs).toMatch(/^ana#\d+$/);
    const mine = await rate('q1', { rating: 2 }, mallory);
    expect(mine.status).toBe(200);
    expect(mine.json).toMatchObject({ annotator: expect.stringMatching(/^mallory#\d+$/) });
    // Naming oneself is the same as naming nobody.
    const named = await rate('q1', { rating: 2, annotator: mine.json.annotator }, mallory);
    expect([named.status, named.json.case]).toEqual([200, { mean: 1.5, n: 2 }]);
    const removed = await t.call('DELETE', ratingPath('q1'), undefined, mallory);
    expect([removed.status, removed.json.case]).toEqual([200, { mean: 1, n: 1 }]);
  });

  it("refuses a write token forging, replacing or removing another rater's rating", async () => {
    expect((await verdict()).outcome).toBe('fail');
    const before = await ratingsOf();
    for (const annotator of [anaIs, 'ana', 'someone-new']) {
      const forged = await rate('q1', { rating: 5, annotator }, mallory);
      expect(forged.status, annotator).toBe(403);
      expect(forged.json.error.message).toMatch(RULE);
    }
    const deleted = await t.call('DELETE', ratingPath('q1', anaIs), undefined, mallory);
    expect(deleted.status).toBe(403);
    expect(deleted.json.error.message).toMatch(RULE);
    expect(await ratingsOf()).toEqual(before);
    // The gate that reads the ratings is not moved by any of it.
    expect((await verdict()).outcome).toBe('fail');
  });

  it('lets an admin act for someone on purpose, which can move the gate', async () => {
    for (const caseId of ['q1', 'q2']) {
      const res = await rate(caseId, { rating: 5, annotator: anaIs }, t.adminToken);
      expect([res.status, res.json.annotator, res.json.case]).toEqual([
        200,
        anaIs,
        { mean: 5, n: 1 },
      ]);
    }
    expect((await verdict()).outcome).toBe('pass');
    const removed = await t.call('DELETE', ratingPath('q2', anaIs), undefined, t.adminToken);
    expect([removed.status, removed.json.case]).toEqual([200, null]);
  });
});

describe('rankings are by the token that sends them', () => {
  const rank = (body: object, token: string) =>
    t.call(
      'POST',
      '/api/v1/preferences',
      { project: 'ident', prompt: 'p', chosen: 'a', rejected: 'b', ...body },
      token,
    );

  it('records the token as the author, and refuses a write token naming another', async () => {
    const own = await rank({}, mallory);
    expect(own.status).toBe(201);
    expect(own.json.annotator).toMatch(/^mallory#\d+$/);
    // The author that pairs made from ratings are recorded and deduplicated under, too.
    for (const annotator of [anaIs, 'human-ratings:qa@v1']) {
      const forged = await rank({ annotator }, mallory);
      expect(forged.status, annotator).toBe(403);
      expect(forged.json.error.message).toMatch(
        /^annotator: only an admin may record rankings for someone else; this token ranks as "mallory#\d+"/,
      );
    }
    const listed = (await t.call('GET', '/api/v1/projects/ident/preferences')).json.preferences;
    expect(listed.map((p: { annotator: string }) => p.annotator)).toEqual([own.json.annotator]);
  });

  it('lets an admin record a ranking for someone', async () => {
    const res = await rank({ annotator: 'ana (interview notes)' }, t.adminToken);
    expect([res.status, res.json.annotator]).toEqual([201, 'ana (interview notes)']);
  });
});
