import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
const names: string[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  await t.call('POST', '/api/v1/projects', { name: 'sweep' });
  // 12 runs: lr alternates, half are tagged, accuracy rises with i, run 11 has no accuracy at all.
  for (let i = 0; i < 12; i++) {
    const name = `run-${String(i).padStart(2, '0')}`;
    names.push(name);
    const run = (
      await t.call('POST', '/api/v1/projects/sweep/runs', {
        name,
        params: { lr: i % 2 ? '1e-4' : '3e-4' },
        tags: i % 3 === 0 ? { stage: 'final' } : {},
      })
    ).json;
    if (i < 11)
      await t.call('POST', `/api/v1/runs/${run.id}/metrics`, {
        metrics: [{ key: 'eval/acc', step: 1, value: i / 10 }],
      });
    if (i === 4) await t.call('PATCH', `/api/v1/runs/${run.id}`, { status: 'failed' });
  }
});
afterAll(() => database.drop());

const search = (body: object) => t.call('POST', '/api/v1/projects/sweep/runs/search', body);
const runNames = (res: { json: { runs: { name: string }[] } }) => res.json.runs.map((r) => r.name);

describe('run search', () => {
  it('filters on params, tags, status and latest metric values', async () => {
    const res = await search({
      params: [{ key: 'lr', value: '3e-4' }],
      metrics: [{ key: 'eval/acc', op: '>=', value: 0.4 }],
      orderBy: { field: 'name', direction: 'asc' },
    });
    expect(runNames(res)).toEqual(['run-04', 'run-06', 'run-08', 'run-10']);
    expect(res.json.runs[0]).toMatchObject({
      params: { lr: '3e-4' },
      metrics: { 'eval/acc': { step: 1, value: 0.4 } },
    });

    const tagged = await search({
      tags: [{ key: 'stage', op: 'exists' }],
      status: ['running'],
      orderBy: { field: 'name', direction: 'asc' },
    });
    expect(runNames(tagged)).toEqual(['run-00', 'run-03', 'run-06', 'run-09']);
    const notFailed = await search({ status: ['failed'] });
    expect(runNames(notFailed)).toEqual(['run-04']);
  });

  it('orders by a metric, puts runs without it last, and pages with keyset tokens', async () => {
    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const res = await search({
        orderBy: { field: 'metric', key: 'eval/acc', direction: 'desc' },
        limit: 5,
        pageToken,
      });
      expect(res.status).toBe(200);
      seen.push(...runNames(res));
      pageToken = res.json.nextPageToken ?? undefined;
    } while (pageToken);
    expect(seen).toEqual([...names.slice(0, 11).reverse(), 'run-11']);
  });

  it('orders by creation time by default, newest first, across pages', async () => {
    const first = await search({ limit: 7 });
    const second = await search({ limit: 7, pageToken: first.json.nextPageToken });
    expect([...runNames(first), ...runNames(second)]).toEqual([...names].reverse());
    expect(second.json.nextPageToken).toBeNull();
  });

  it('rejects a forged page token and a metric order without a key', async () => {
    const forged = await search({ pageToken: 'not-ours' });
    expect(forged.status).toBe(400);
    expect(forged.json.error.message).toBe(
      'pageToken: not a token this server issued for this view',
    );
    const token = (v: unknown, o = 'metric:eval/acc:desc') =>
      Buffer.from(
        JSON.stringify({ v: o, c: { v, id: '00000000-0000-4000-8000-000000000000' } }),
      ).toString('base64url');
    const byMetric = { field: 'metric', key: 'eval/acc', direction: 'desc' };
    for (const pageToken of [
      token('abc'),
      token(1),
      token('1', 'createdAt::desc'),
      token("1'; drop table runs; --"),
    ]) {
      const res = await search({ orderBy: byMetric, pageToken });
      expect(res.status).toBe(400);
    }
    expect((await search({ orderBy: byMetric, pageToken: token('0.5') })).status).toBe(200);
    const first = await search({ limit: 2 });
    const reordered = await search({
      limit: 2,
      orderBy: { field: 'name' },
      pageToken: first.json.nextPageToken,
    });
    expect(reordered.status).toBe(400);
    const noKey = await search({ orderBy: { field: 'metric' } });
    expect(noKey.status).toBe(400);
    expect(noKey.json.error.message).toBe(
      'orderBy.key: key is required for field metric, param or tag, and only then',
    );
  });
});
