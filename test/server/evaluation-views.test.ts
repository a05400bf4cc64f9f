import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeldoutClient } from '../../server/client/index.ts';
import { findings, jobs } from '../../server/db/schema/index.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evalCaseRows } from '../helpers/eval-cases.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
const ids = {} as Record<
  'runA' | 'runB' | 'cA' | 'cB' | 'cOther' | 'a' | 'b' | 'v2' | 'queued' | 'foreign',
  string
>;
let readToken: string;
let foreignToken: string;

const rows = [
  { id: 'q1', input: 'in-q1', expected: 'exp-q1' },
  { id: 'q2', input: 'in-q2', expected: 'exp-q2' },
  { id: 'q3', input: 'in-q3', expected: ['exp-q3a', 'exp-q3b'] },
  { id: 'q4', input: 'in-q4', expected: 'exp-q4' },
  { id: 'q5', input: 'in-q5', expected: 'exp-q5' },
];

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const s = await evalCaseRows(t, database, 'views', rows);
  const [qa1, qa2] = await s.suite('qa', 2);
  ids.runA = await s.run('lora-r8');
  ids.runB = await s.run('other-run');
  ids.cA = await s.checkpoint(ids.runA, 10);
  ids.cB = await s.checkpoint(ids.runA, 20);
  ids.cOther = await s.checkpoint(ids.runB, 5);
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
  ids.a = await s.evaluation(
    ids.cA,
    qa1!,
    { q1: ['A1', 1], q2: ['A2', 1], q3: ['A3', 0], q4: ['A4', 0.5], q5: ['A5', 0] },
    { createdAt: at(1) },
  );
  ids.b = await s.evaluation(
    ids.cB,
    qa1!,
    { q1: ['B1', 0], q2: ['B2', 1], q3: ['B3', 1], q4: ['B4', 0.9], q5: ['B5', 0.2] },
    { createdAt: at(2) },
  );
  ids.v2 = await s.evaluation(ids.cB, qa2!, { q1: ['C1', 1] }, { createdAt: at(3) });
  ids.queued = await s.evaluation(ids.cOther, qa1!, {}, { status: 'queued', createdAt: at(4) });
  readToken = await s.token('read');

  const elsewhere = await evalCaseRows(t, database, 'elsewhere', rows);
  const [otherQa] = await elsewhere.suite('qa');
  const otherCkpt = await elsewhere.checkpoint(null, null);
  ids.foreign = await elsewhere.evaluation(otherCkpt, otherQa!, { q1: ['F1', 1] });
  foreignToken = await elsewhere.token('read');

  await database.db.insert(findings).values([
    {
      projectId: s.projectId,
      runId: ids.runA,
      detector: 'overfitting',
      severity: 'warn',
      summary: 'run-level',
      evidence: { gap: 0.3 },
    },
    {
      projectId: s.projectId,
      runId: ids.runA,
      checkpointId: ids.cB,
      suiteVersionId: qa1!,
      detector: 'forgetting',
      severity: 'block',
      summary: 'checkpoint-level',
      evidence: {},
    },
    // Recorded about a checkpoint alone (no run id on the finding): still the run's.
    {
      projectId: s.projectId,
      checkpointId: ids.cA,
      detector: 'contamination',
      severity: 'info',
      summary: 'checkpoint-only',
      evidence: {},
    },
    {
      projectId: s.projectId,
      runId: ids.runB,
      detector: 'overfitting',
      severity: 'info',
      summary: 'other run',
      evidence: {},
    },
  ]);
  await database.db.insert(jobs).values([
    {
      projectId: s.projectId,
      kind: 'train',
      runId: ids.runA,
      status: 'finished',
      payload: {},
      workerId: 'host:1:0',
      attempts: 2,
      error: 'first attempt: out of memory',
      createdAt: at(0),
      startedAt: at(10),
      heartbeatAt: at(20),
      finishedAt: at(30),
    },
    {
      projectId: s.projectId,
      kind: 'evaluate',
      evaluationId: ids.a,
      status: 'running',
      payload: {},
      createdAt: at(40),
    },
    { projectId: s.projectId, kind: 'train', runId: ids.runB, payload: {}, createdAt: at(50) },
  ]);
});
afterAll(() => database.drop());

const get = (path: string, token?: string | null) =>
  t.call('GET', `/api/v1${path}`, undefined, token);

describe('GET /evaluations/{id}/cases', () => {
  it('lists cases with their input and expected answer from the eval file, a page at a time', async () => {
    const first = await get(`/evaluations/${ids.a}/cases?limit=2`);
    expect(first.status).toBe(200);
    expect(first.json.cases).toEqual([
      {
        caseId: 'q1',
        input: 'in-q1',
        expected: 'exp-q1',
        output: 'A1',
        scores: { exact_match: 1 },
        passed: true,
        latencyMs: 3,
        humanRating: null,
      },
      expect.objectContaining({ caseId: 'q2', input: 'in-q2', output: 'A2' }),
    ]);
    const second = await get(
      `/evaluations/${ids.a}/cases?limit=2&pageToken=${first.json.nextPageToken}`,
    );
    expect(second.json.cases.map((c: { caseId: string }) => c.caseId)).toEqual(['q3', 'q4']);
    expect(second.json.cases[0].expected).toEqual(['exp-q3a', 'exp-q3b']);
    const third = await get(
      `/evaluations/${ids.a}/cases?limit=2&pageToken=${second.json.nextPageToken}`,
    );
    expect(third.json.cases.map((c: { caseId: string }) => c.caseId)).toEqual(['q5']);
    expect(third.json.nextPageToken).toBeNull();
  });

  it('filters by outcome, and a token only continues the view it came from', async () => {
    const failed = await get(`/evaluations/${ids.a}/cases?outcome=failed&limit=2`);
    expect(failed.json.cases.map((c: { caseId: string }) => c.caseId)).toEqual(['q3', 'q4']);
    const passed = await get(`/evaluations/${ids.a}/cases?outcome=passed`);
    expect(passed.json.cases.map((c: { caseId: string }) => c.caseId)).toEqual(['q1', 'q2']);
    const mixed = await get(
      `/evaluations/${ids.a}/cases?outcome=passed&pageToken=${failed.json.nextPageToken}`,
    );
    expect(mixed.status).toBe(400);
    expect(mixed.json.error.message).toMatch(/^pageToken:/);
  });

  it('names the bad field', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['outcome=maybe', 'outcome'],
      ['pageToken=garbage', 'pageToken'],
    ]) {
      const res = await get(`/evaluations/${ids.a}/cases?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json.error.message, query).toMatch(new RegExp(`^${field}:`));
    }
    const badId = await get('/evaluations/not-a-uuid/cases');
    expect(badId.status).toBe(400);
    expect(badId.json.error.message).toMatch(/^evaluationId:/);
    const missing = await get('/evaluations/00000000-0000-4000-8000-000000000000/cases');
    expect(missing.status).toBe(404);
    expect(missing.json.error.message).toContain('00000000-0000-4000-8000-000000000000');
  });

  it('needs a token of the project unless reads are public', async () => {
    expect((await get(`/evaluations/${ids.a}/cases`, null)).status).toBe(401);
    expect((await get(`/evaluations/${ids.a}/cases`, foreignToken)).status).toBe(403);
    expect((await get(`/evaluations/${ids.a}/cases`, readToken)).status).toBe(200);
    const open = await testApp(database, {
      HELDOUT_DATA_DIR: t.config.HELDOUT_DATA_DIR,
      HELDOUT_PUBLIC_READ: '1',
    });
    const res = await open.call('GET', `/api/v1/evaluations/${ids.a}/cases`, undefined, null);
    expect(res.status).toBe(200);
    expect(res.json.cases[0].input).toBe('in-q1');
  });
});

describe('GET /evaluations/{a}/diff/{b}', () => {
  it('puts flips first, then the largest moves, with a summary over every case', async () => {
    const res = await get(`/evaluations/${ids.a}/diff/${ids.b}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      a: { id: ids.a, checkpointId: ids.cA, runId: ids.runA, runName: 'lora-r8', step: 10 },
      b: { id: ids.b, checkpointId: ids.cB, runId: ids.runA, runName: 'lora-r8', step: 20 },
      suite: 'qa',
      suiteVersion: 1,
      metric: 'exact_match',
      summary: { cases: 5, passToFail: 1, failToPass: 1, bothPass: 1, bothFail: 2 },
    });
    expect(res.json.summary.meanDelta).toBeCloseTo(0.12);
    expect(
      res.json.cases.map((c: { caseId: string; change: string }) => [c.caseId, c.change]),
    ).toEqual([
      ['q1', 'pass_to_fail'],
      ['q3', 'fail_to_pass'],
      ['q4', 'same'],
      ['q5', 'same'],
      ['q2', 'same'],
    ]);
    expect(res.json.cases[0]).toEqual({
      caseId: 'q1',
      input: 'in-q1',
      expected: 'exp-q1',
      outputA: 'A1',
      outputB: 'B1',
      scoreA: 1,
      scoreB: 0,
      delta: -1,
      change: 'pass_to_fail',
    });
    expect(res.json.cases[2].delta).toBeCloseTo(0.4);
  });

  it('caps the cases at limit, not the summary', async () => {
    const res = await get(`/evaluations/${ids.a}/diff/${ids.b}?limit=2`);
    expect(res.json.cases.map((c: { caseId: string }) => c.caseId)).toEqual(['q1', 'q3']);
    expect(res.json.summary.cases).toBe(5);
    expect((await get(`/evaluations/${ids.a}/diff/${ids.b}?limit=0`)).json.error.message).toMatch(
      /^limit:/,
    );
  });

  it('refuses evaluations of different suite versions, naming both', async () => {
    const res = await get(`/evaluations/${ids.a}/diff/${ids.v2}`);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('qa@v1');
    expect(res.json.error.message).toContain('qa@v2');
  });

  it('refuses evaluations of two projects, and ones not finished', async () => {
    const foreign = await get(`/evaluations/${ids.a}/diff/${ids.foreign}`);
    expect(foreign.status).toBe(400);
    expect(foreign.json.error.message).toMatch(/^b: .*another project/);
    const queued = await get(`/evaluations/${ids.a}/diff/${ids.queued}`);
    expect(queued.status).toBe(409);
    expect(queued.json.error.message).toMatch(/^b: .*queued/);
    const bad = await get(`/evaluations/${ids.a}/diff/nope`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^b:/);
  });

  it('needs read access to the project', async () => {
    expect((await get(`/evaluations/${ids.a}/diff/${ids.b}`, null)).status).toBe(401);
    expect((await get(`/evaluations/${ids.a}/diff/${ids.b}`, foreignToken)).status).toBe(403);
    expect((await get(`/evaluations/${ids.a}/diff/${ids.b}`, readToken)).status).toBe(200);
  });
});

describe('findings', () => {
  const summaries = (res: { json: { findings: { summary: string }[] } }) =>
    res.json.findings.map((f) => f.summary);

  it("lists a run's own findings and its checkpoints', newest first, with where they belong", async () => {
    const res = await get(`/runs/${ids.runA}/findings`);
    expect(res.status).toBe(200);
    expect(summaries(res)).toEqual(['checkpoint-only', 'checkpoint-level', 'run-level']);
    expect(res.json.findings[1]).toMatchObject({
      detector: 'forgetting',
      severity: 'block',
      runId: ids.runA,
      checkpointId: ids.cB,
    });
    expect(res.json.findings[2]).toMatchObject({ checkpointId: null, evidence: { gap: 0.3 } });
  });

  it("filters a project's findings by detector and severity, a page at a time", async () => {
    const all = await get('/projects/views/findings');
    expect(summaries(all)).toEqual([
      'other run',
      'checkpoint-only',
      'checkpoint-level',
      'run-level',
    ]);
    expect(summaries(await get('/projects/views/findings?detector=overfitting'))).toEqual([
      'other run',
      'run-level',
    ]);
    expect(summaries(await get('/projects/views/findings?severity=block'))).toEqual([
      'checkpoint-level',
    ]);
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof get>> = await get(
        `/projects/views/findings?limit=3${token ? `&pageToken=${token}` : ''}`,
      );
      seen.push(...summaries(page));
      token = page.json.nextPageToken;
    } while (token);
    expect(seen).toEqual(summaries(all));
    const bad = await get('/projects/views/findings?severity=fatal');
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^severity:/);
    // Another project's token is told the project does not exist (see project-visibility.test.ts).
    expect((await get('/projects/views/findings', foreignToken)).status).toBe(404);
    expect((await get(`/runs/${ids.runA}/findings`, null)).status).toBe(401);
  });
});

describe('GET /runs/{runId}/jobs', () => {
  it("is the run's training and its checkpoints' evaluations, oldest first", async () => {
    const res = await get(`/runs/${ids.runA}/jobs`);
    expect(res.status).toBe(200);
    expect(res.json.jobs).toHaveLength(2);
    expect(res.json.jobs[0]).toMatchObject({
      kind: 'train',
      status: 'finished',
      attempts: 2,
      workerId: 'host:1:0',
      error: 'first attempt: out of memory',
      evaluationId: null,
      createdAt: '2026-01-01T00:00:00.000Z',
      startedAt: '2026-01-01T00:00:00.010Z',
      heartbeatAt: '2026-01-01T00:00:00.020Z',
      finishedAt: '2026-01-01T00:00:00.030Z',
    });
    expect(res.json.jobs[1]).toMatchObject({ kind: 'evaluate', evaluationId: ids.a });
    const first = await get(`/runs/${ids.runA}/jobs?limit=1`);
    const second = await get(
      `/runs/${ids.runA}/jobs?limit=1&pageToken=${first.json.nextPageToken}`,
    );
    expect(second.json.jobs.map((j: { id: string }) => j.id)).toEqual([res.json.jobs[1].id]);
    expect(second.json.nextPageToken).toBeNull();
    expect((await get(`/runs/${ids.runA}/jobs`, null)).status).toBe(401);
    expect((await get('/runs/00000000-0000-4000-8000-000000000000/jobs')).status).toBe(404);
  });
});

describe('GET /projects/{project}/evaluations', () => {
  const evalIds = (res: { json: { evaluations: { id: string }[] } }) =>
    res.json.evaluations.map((e) => e.id);

  it('lists evaluations newest first with their checkpoints', async () => {
    const res = await get('/projects/views/evaluations');
    expect(res.status).toBe(200);
    expect(evalIds(res)).toEqual([ids.queued, ids.v2, ids.b, ids.a]);
    expect(res.json.evaluations[3]).toMatchObject({
      id: ids.a,
      suite: 'qa',
      suiteVersion: 1,
      status: 'finished',
      checkpoint: { id: ids.cA, step: 10, runId: ids.runA, runName: 'lora-r8', name: null },
    });
  });

  it('filters by suite, suite version, status and checkpoint, a page at a time', async () => {
    expect(evalIds(await get('/projects/views/evaluations?suite=qa&suiteVersion=1'))).toEqual([
      ids.queued,
      ids.b,
      ids.a,
    ]);
    expect(evalIds(await get('/projects/views/evaluations?status=queued'))).toEqual([ids.queued]);
    expect(evalIds(await get(`/projects/views/evaluations?checkpointId=${ids.cB}`))).toEqual([
      ids.v2,
      ids.b,
    ]);
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof get>> = await get(
        `/projects/views/evaluations?limit=1${token ? `&pageToken=${token}` : ''}`,
      );
      seen.push(...evalIds(page));
      token = page.json.nextPageToken;
    } while (token);
    expect(seen).toEqual([ids.queued, ids.v2, ids.b, ids.a]);
  });

  it('names what is wrong', async () => {
    const unknown = await get('/projects/views/evaluations?suite=nope');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.message).toContain('"nope"');
    const lone = await get('/projects/views/evaluations?suiteVersion=1');
    expect(lone.status).toBe(400);
    expect(lone.json.error.message).toMatch(/^suiteVersion:/);
    const status = await get('/projects/views/evaluations?status=done');
    expect(status.json.error.message).toMatch(/^status:/);
    expect((await get('/projects/views/evaluations', null)).status).toBe(401);
    expect((await get('/projects/views/evaluations', readToken)).status).toBe(200);
  });
});

describe('the typed client', () => {
  it('reaches the views and human ratings', async () => {
    const client = new HeldoutClient({
      baseUrl: 'http://heldout.test',
      token: t.adminToken,
      fetch: async (input, init) => t.app.request(input, init),
    });
    const page = await client.evaluationViews.cases(ids.a, { outcome: 'failed', limit: 1 });
    expect(page.cases.map((c) => c.caseId)).toEqual(['q3']);
    const diff = await client.evaluationViews.diff(ids.a, ids.b, { limit: 1 });
    expect(diff.cases[0]!.change).toBe('pass_to_fail');
    const listed = await client.evaluationViews.ofProject('views', {
      suite: 'qa',
      suiteVersion: 2,
    });
    expect(listed.evaluations.map((e) => e.id)).toEqual([ids.v2]);
    expect((await client.evaluationViews.runFindings(ids.runA)).findings).toHaveLength(3);
    expect(
      (await client.evaluationViews.projectFindings('views', { severity: 'block' })).findings,
    ).toHaveLength(1);
    expect((await client.evaluationViews.runJobs(ids.runA)).jobs).toHaveLength(2);
    const rated = await client.humanRatings.rate(ids.v2, 'q1', { rating: 5, annotator: 'cli' });
    expect(rated.humanRating?.value).toBe(5);
    const removed = await client.humanRatings.remove(ids.v2, 'q1', 'cli');
    expect(removed.humanRating).toBeNull();
    const prefs = await client.humanRatings.preferences('views', { suite: 'qa' });
    expect(prefs).toMatchObject({ suiteVersion: 2, recorded: 0 });
  });
});
