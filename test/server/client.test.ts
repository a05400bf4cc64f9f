import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeldoutApiError, HeldoutClient } from '../../server/client/index.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let client: HeldoutClient;
beforeAll(async () => {
  database = await createTestDatabase();
  const t = await testApp(database);
  client = new HeldoutClient({
    baseUrl: 'http://heldout.test',
    token: t.adminToken,
    fetch: async (input, init) => t.app.request(input, init),
  });
});
afterAll(() => database.drop());

describe('heldout/client', () => {
  it('logs a run end to end with typed calls', async () => {
    expect((await client.health()).status).toBe('ok');
    await client.projects.create({ name: 'client' });
    const run = await client.runs.create('client', { name: 'full-ft', params: { lr: '1e-5' } });
    await client.runs.setTags(run.id, { stage: 'dev' });
    await client.metrics.log(run.id, [
      { key: 'loss', step: 0, value: 2, timestamp: 1000 },
      { key: 'loss', step: 1, value: Number.NaN, timestamp: 2000 },
      { key: 'loss', step: 2, value: 1, timestamp: 3000 },
    ]);
    const history = await client.metrics.history(run.id, 'loss', { pageSize: 2 });
    expect(history).toMatchObject({ steps: [0, 1, 2], values: [2, 'NaN', 1] });
    expect((await client.metrics.downsample(run.id, 'loss', 1)).buckets).toEqual([
      { stepMin: 0, stepMax: 2, count: 3, min: 1, max: 2, last: 1, wallTime: 3000 },
    ]);
    await client.runs.update(run.id, { status: 'finished' });
    const found = await client.runs.search('client', {
      metrics: [{ key: 'loss', op: '<', value: 1.5 }],
    });
    expect(found.runs.map((r) => [r.name, r.status, r.tags])).toEqual([
      ['full-ft', 'finished', { stage: 'dev' }],
    ]);
  });

  it('turns error answers into HeldoutApiError with status, code and message', async () => {
    const run = await client.runs.create('client', { params: { lr: '1' } });
    const err = await client.runs.logParams(run.id, { lr: '2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeldoutApiError);
    expect(err).toMatchObject({
      status: 409,
      code: 'conflict',
      message: '409 conflict: params are immutable: "lr" is already "1", not "2"',
    });
  });
});
