import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servingRequests } from '../../server/db/schema/index.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evidenceRows } from '../helpers/evidence.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
const versionIds: number[] = [];
const p = '/api/v1/projects/serving';

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const projectId = (await t.call('POST', '/api/v1/projects', { name: 'serving' })).json.id;
  const rows = evidenceRows(database, projectId);
  await t.call('POST', `${p}/models`, { name: 'bot' });
  for (let i = 0; i < 3; i++) {
    const checkpointId = await rows.checkpoint();
    const v = await t.call('POST', `${p}/models/bot/versions`, { checkpointId });
    versionIds.push(v.json.id);
  }
  const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);
  const row = (modelVersionId: number, totalMs: number, createdAt: Date, outcome = 'stop') => ({
    modelVersionId,
    endpoint: 'completions',
    stream: false,
    outcome,
    promptTokens: 5,
    completionTokens: 10,
    queueMs: 1,
    firstTokenMs: 2,
    totalMs,
    createdAt,
  });
  const [v1, v2, v3] = versionIds as [number, number, number];
  await database.db.insert(servingRequests).values([
    // v1: 30 recent answers of 10..300 ms, 20 slow ones a day ago, and slow cancelled ones that
    // never count.
    ...Array.from({ length: 30 }, (_, i) => row(v1, (i + 1) * 10, at(i + 1))),
    ...Array.from({ length: 20 }, () => row(v1, 5000, at(86_400))),
    ...Array.from({ length: 5 }, () => row(v1, 9000, at(0), 'cancelled')),
    // v2: too few to judge. v3: only refused.
    ...Array.from({ length: 5 }, (_, i) => row(v2, 50, at(i), i ? 'length' : 'stop')),
    row(v3, 0, at(0), 'refused'),
  ]);
});
afterAll(() => database.drop());

const verdict = async (policy: unknown, version: number) => {
  const name = `g${Math.random().toString(36).slice(2, 8)}`;
  expect((await t.call('POST', `${p}/gates`, { name, policy })).status).toBe(201);
  const res = await t.call('POST', `${p}/gates/${name}/verdicts`, { model: 'bot', version });
  expect(res.status).toBe(201);
  return res.json;
};

describe('serving_latency gate', () => {
  it('judges the version on its latest answered requests against the budget', async () => {
    // p95 of 10..300 ms is 285.5 ms; the old slow requests fall outside the last 30.
    const pass = await verdict({ kind: 'serving_latency', maxMs: 300, last: 30 }, 1);
    expect(pass.outcome).toBe('pass');
    expect(pass.checks[0]).toMatchObject({ kind: 'serving_latency', observed: 285.5, n: 30 });

    // Over the default window the day-old 5 s requests are in, and sink the p95.
    const all = await verdict({ kind: 'serving_latency', maxMs: 300 }, 1);
    expect([all.outcome, all.checks[0].observed, all.checks[0].n]).toEqual(['fail', 5000, 50]);

    const tight = await verdict(
      { kind: 'all', checks: [{ kind: 'serving_latency', maxMs: 250, last: 30 }] },
      1,
    );
    expect(tight.outcome).toBe('fail');
    const md = await t.call('GET', `/api/v1/verdicts/${tight.id}?format=markdown`);
    expect(md.text).toMatch(/latency p95 is 285\.5 ms over the latest 30 .*≤ 250 ms/);
  });

  it('is no_data, with how to serve the version, below minRequests', async () => {
    const few = await verdict({ kind: 'serving_latency', maxMs: 300 }, 2);
    expect([few.outcome, few.checks[0].n]).toEqual(['no_data', 5]);
    expect(few.checks[0].message).toMatch(/5 served requests, fewer than the 20.*`staging`/);
    const none = await verdict({ kind: 'serving_latency', maxMs: 300, minRequests: 1 }, 3);
    expect([none.outcome, none.checks[0].n]).toEqual(['no_data', 0]);
  });
});

describe('leaderboard', () => {
  it('carries each version’s serving figures over its answered requests', async () => {
    const board = await t.call('GET', `${p}/leaderboard`);
    expect(board.status).toBe(200);
    const of = (v: number) =>
      board.json.rows.find((r: { version: number }) => r.version === v).serving;
    // 50 answered requests of v1: 30 fast ones and 20 of 5 s; 500 tokens over 104.65 s.
    expect(of(1)).toEqual({ requests: 50, p50Ms: 255, p95Ms: 5000, tokensPerSecond: 4.78 });
    expect(of(2)).toMatchObject({ requests: 5, p50Ms: 50, p95Ms: 50 });
    expect(of(3)).toBeNull();
  });
});
