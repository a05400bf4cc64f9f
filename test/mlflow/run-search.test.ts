import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let exp: string;
let other: string;
const ids: Record<string, string> = {};
const api = '/api/2.0/mlflow';
const post = (path: string, body: unknown) => t.call('POST', `${api}/${path}`, body);

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  exp = (await post('experiments/create', { name: 'search-exp' })).json.experiment_id;
  other = (await post('experiments/create', { name: 'search-other' })).json.experiment_id;
  const specs = [
    { name: 'alpha', lr: '0.1', stage: 'dev', loss: 0.9, status: 'FINISHED', start: 1000 },
    { name: 'beta', lr: '0.01', stage: 'prod', loss: 0.4, status: 'FAILED', start: 2000 },
    { name: 'gamma', lr: '0.001', stage: 'prod', loss: 0.2, status: 'RUNNING', start: 3000 },
  ];
  for (const s of specs) {
    const run = (
      await post('runs/create', { experiment_id: exp, run_name: s.name, start_time: s.start })
    ).json.run;
    ids[s.name] = run.info.run_id;
    await post('runs/log-batch', {
      run_id: run.info.run_id,
      params: [{ key: 'lr', value: s.lr }],
      tags: [{ key: 'stage', value: s.stage }],
      metrics: [
        { key: 'val loss', value: s.loss, timestamp: 1, step: 0 },
        { key: 'loss', value: s.loss, timestamp: 1, step: 0 },
      ],
    });
    if (s.status !== 'RUNNING')
      await post('runs/update', { run_id: run.info.run_id, status: s.status });
  }
  ids.delta = (
    await post('runs/create', { experiment_id: other, run_name: 'delta', start_time: 4000 })
  ).json.run.info.run_id;
});
afterAll(() => database.drop());

const names = async (body: object) => {
  const res = await post('runs/search', { experiment_ids: [exp], ...body });
  expect(res.status, res.text).toBe(200);
  return (res.json.runs as { info: { run_name: string } }[]).map((r) => r.info.run_name);
};

describe('MLflow runs/search over heldout run search', () => {
  it('filters on metrics, params, tags and attributes, joined by AND', async () => {
    expect(await names({ filter: 'metrics.loss < 0.5' })).toEqual(['gamma', 'beta']);
    expect(await names({ filter: "metrics.`val loss` >= 0.4 and params.lr = '0.1'" })).toEqual([
      'alpha',
    ]);
    expect(await names({ filter: "tags.stage = 'prod' AND attributes.status = 'FAILED'" })).toEqual(
      ['beta'],
    );
    expect(await names({ filter: "attributes.status != 'RUNNING'" })).toEqual(['beta', 'alpha']);
    expect(await names({ filter: "status IN ('RUNNING', 'FINISHED')" })).toEqual([
      'gamma',
      'alpha',
    ]);
    expect(await names({ filter: "params.lr LIKE '0.0%'" })).toEqual(['gamma', 'beta']);
    expect(await names({ filter: "tags.stage ILIKE 'PR%'" })).toEqual(['gamma', 'beta']);
    expect(await names({ filter: "params.lr != '0.1'" })).toEqual(['gamma', 'beta']);
    expect(await names({ filter: "attributes.run_name = 'beta'" })).toEqual(['beta']);
    expect(await names({ filter: "tags.mlflow.runName LIKE '%a%'" })).toEqual([
      'gamma',
      'beta',
      'alpha',
    ]);
    expect(await names({ filter: `attributes.run_id = '${ids.alpha}'` })).toEqual(['alpha']);
    expect(await names({ filter: `run_id IN ('${ids.alpha}', '${ids.beta}', 'nope')` })).toEqual([
      'beta',
      'alpha',
    ]);
    expect(await names({ filter: "attributes.run_id = 'nope'" })).toEqual([]);
    expect(
      await names({ filter: 'attributes.start_time >= 2000 and attributes.start_time < 3000' }),
    ).toEqual(['beta']);
  });

  it('orders by metrics, params, tags and attributes; start time newest first by default', async () => {
    expect(await names({})).toEqual(['gamma', 'beta', 'alpha']);
    expect(await names({ order_by: ['metrics.loss ASC'] })).toEqual(['gamma', 'beta', 'alpha']);
    expect(await names({ order_by: ['metrics.`val loss` DESC'] })).toEqual([
      'alpha',
      'beta',
      'gamma',
    ]);
    expect(await names({ order_by: ['params.lr'] })).toEqual(['gamma', 'beta', 'alpha']);
    expect(await names({ order_by: ['attributes.start_time ASC'] })).toEqual([
      'alpha',
      'beta',
      'gamma',
    ]);
    expect(await names({ order_by: ['attributes.run_name DESC'] })).toEqual([
      'gamma',
      'beta',
      'alpha',
    ]);
    expect(await names({ order_by: ['tags.stage'] })).toHaveLength(3);
  });

  it('pages with max_results and page_token, across experiments', async () => {
    const first = await post('runs/search', { experiment_ids: [exp, other], max_results: 3 });
    expect(first.json.runs.map((r: { info: { run_name: string } }) => r.info.run_name)).toEqual([
      'delta',
      'gamma',
      'beta',
    ]);
    const second = await post('runs/search', {
      experiment_ids: [exp, other],
      max_results: 3,
      page_token: first.json.next_page_token,
    });
    expect(second.json.runs.map((r: { info: { run_name: string } }) => r.info.run_name)).toEqual([
      'alpha',
    ]);
    expect(second.json.next_page_token).toBeUndefined();
    const forged = await post('runs/search', { experiment_ids: [exp], page_token: 'forged' });
    expect([forged.status, forged.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    const tooMany = await post('runs/search', { experiment_ids: [exp], max_results: 50_001 });
    expect(tooMany.json.message).toContain("'max_results'");
    expect((await post('runs/search', { experiment_ids: [exp], max_results: 50_000 })).status).toBe(
      200,
    );
  });

  it('hides deleted runs and the runs of deleted experiments from ACTIVE_ONLY', async () => {
    await post('runs/delete', { run_id: ids.beta });
    expect(await names({})).toEqual(['gamma', 'alpha']);
    expect(await names({ run_view_type: 'DELETED_ONLY' })).toEqual(['beta']);
    expect(await names({ run_view_type: 'ALL' })).toEqual(['gamma', 'beta', 'alpha']);
    await post('runs/restore', { run_id: ids.beta });
    await post('experiments/delete', { experiment_id: other });
    const active = await post('runs/search', { experiment_ids: [other] });
    expect(active.json.runs).toEqual([]);
    const deleted = await post('runs/search', {
      experiment_ids: [other],
      run_view_type: 'DELETED_ONLY',
    });
    expect(deleted.json.runs[0].info).toMatchObject({
      run_name: 'delta',
      lifecycle_stage: 'deleted',
    });
    await post('experiments/restore', { experiment_id: other });
    expect((await post('runs/search', { experiment_ids: [other] })).json.runs).toHaveLength(1);
  });

  it('refuses a filter it cannot parse with 400 naming the clause', async () => {
    const cases: [string, string][] = [
      ["metrics.loss < 0.5 and params.lr ~ '1'", "params.lr ~ '1'"],
      ["metrics.loss < 'a'", "metrics.loss < 'a'"],
      ['params.lr = 0.1', 'params.lr = 0.1'],
      ["datasets.name = 'x'", "datasets.name = 'x'"],
      ["attributes.colour = 'red'", "attributes.colour = 'red'"],
      ["status = 'DONE'", "status = 'DONE'"],
      ["metrics.loss LIKE '1'", "metrics.loss LIKE '1'"],
    ];
    for (const [filter, clause] of cases) {
      const res = await post('runs/search', { experiment_ids: [exp], filter });
      expect([res.status, res.json.error_code], filter).toEqual([400, 'INVALID_PARAMETER_VALUE']);
      expect(res.json.message, filter).toContain(`'${clause}'`);
    }
    const or = await post('runs/search', {
      experiment_ids: [exp],
      filter: "tags.a = 'x' or tags.b = 'y'",
    });
    expect(or.json.message).toContain('OR');
    const order = await post('runs/search', {
      experiment_ids: [exp],
      order_by: ['attributes.colour'],
    });
    expect(order.json.message).toContain("'attributes.colour'");
    const unknown = await post('runs/search', { experiment_ids: ['424242'] });
    expect([unknown.status, unknown.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
  });
});
