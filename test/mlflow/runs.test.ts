import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let experimentId: string;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const res = await t.call('POST', '/api/2.0/mlflow/experiments/create', { name: 'runs-exp' });
  experimentId = res.json.experiment_id;
});
afterAll(() => database.drop());

const api = '/api/2.0/mlflow';
const post = (path: string, body: unknown) => t.call('POST', `${api}/${path}`, body);
const newRun = async (extra: object = {}) => {
  const res = await post('runs/create', { experiment_id: experimentId, ...extra });
  expect(res.status, res.text).toBe(200);
  return res.json.run as { info: Record<string, unknown>; data: Record<string, unknown[]> };
};
const getRun = async (id: string) => (await t.call('GET', `${api}/runs/get?run_id=${id}`)).json.run;

describe('MLflow runs (heldout runs)', () => {
  it('creates a run with name, user, start time and tags, readable by run_id and run_uuid', async () => {
    const run = await newRun({
      run_name: 'lora-r8',
      user_id: 'ada',
      start_time: 1_700_000_000_000,
      tags: [{ key: 'stage', value: 'dev' }],
    });
    const id = run.info.run_id as string;
    expect(run.info).toEqual({
      run_id: id,
      run_uuid: id,
      run_name: 'lora-r8',
      experiment_id: experimentId,
      user_id: 'ada',
      status: 'RUNNING',
      start_time: 1_700_000_000_000,
      artifact_uri: `mlflow-artifacts:/${experimentId}/${id}/artifacts`,
      lifecycle_stage: 'active',
    });
    expect(run.data.tags).toEqual(
      expect.arrayContaining([
        { key: 'stage', value: 'dev' },
        { key: 'mlflow.user', value: 'ada' },
        { key: 'mlflow.runName', value: 'lora-r8' },
      ]),
    );
    const byUuid = await t.call('GET', `${api}/runs/get?run_uuid=${id}`);
    expect(byUuid.json.run.info.run_id).toBe(id);
    // The same run through heldout's API.
    const native = await t.call('GET', `/api/v1/runs/${id}`);
    expect([native.json.name, native.json.tags.stage, native.json.status]).toEqual([
      'lora-r8',
      'dev',
      'running',
    ]);
    const named = await newRun({ tags: [{ key: 'mlflow.runName', value: 'from-tag' }] });
    expect(named.info.run_name).toBe('from-tag');
  });

  it('answers unknown runs with 404 and bad requests with 400 naming the field', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await t.call('GET', `${api}/runs/get?run_id=${id}`);
      expect([res.status, res.json.error_code], id).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    }
    const none = await t.call('GET', `${api}/runs/get`);
    expect([none.status, none.json.message]).toEqual([
      400,
      "Missing value for required parameter 'run_id'",
    ]);
    const noExp = await post('runs/create', { experiment_id: '99999' });
    expect([noExp.status, noExp.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    const run = await newRun();
    const badStep = await post('runs/log-metric', {
      run_id: run.info.run_id,
      key: 'x',
      value: 1,
      timestamp: 1,
      step: 1.5,
    });
    expect([badStep.status, badStep.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(badStep.json.message).toContain("'step'");
    const badValue = await post('runs/log-metric', {
      run_id: run.info.run_id,
      key: 'x',
      value: 'abc',
      timestamp: 1,
    });
    expect(badValue.json.message).toContain("'value'");
    const badStatus = await post('runs/update', { run_id: run.info.run_id, status: 'DONE' });
    expect(badStatus.json.message).toContain("'status'");
  });

  it('updates status, end time and name; a finished run cannot run again', async () => {
    const run = await newRun();
    const id = run.info.run_id as string;
    const res = await post('runs/update', {
      run_uuid: id,
      status: 'FINISHED',
      end_time: 1_800_000_000_000,
      run_name: 'done',
    });
    expect(res.status).toBe(200);
    expect(res.json.run_info).toMatchObject({
      run_id: id,
      status: 'FINISHED',
      end_time: 1_800_000_000_000,
      run_name: 'done',
    });
    const back = await post('runs/update', { run_id: id, status: 'RUNNING' });
    expect([back.status, back.json.error_code]).toEqual([400, 'INVALID_STATE']);
    for (const [mlflow, heldout] of [
      ['FAILED', 'failed'],
      ['KILLED', 'cancelled'],
    ]) {
      const r = await newRun();
      await post('runs/update', { run_id: r.info.run_id, status: mlflow });
      expect((await t.call('GET', `/api/v1/runs/${r.info.run_id}`)).json.status).toBe(heldout);
    }
  });

  it('logs metrics with NaN and infinities both ways; the newest write wins at a step', async () => {
    const id = (await newRun()).info.run_id as string;
    for (const [value, step] of [
      [1.5, 0],
      ['NaN', 1],
      ['Infinity', 2],
      ['-Infinity', 3],
      [0.25, 4],
    ] as const)
      expect(
        (
          await post('runs/log-metric', {
            run_id: id,
            key: 'loss',
            value,
            timestamp: 1000 + step,
            step,
          })
        ).json,
      ).toEqual({});
    // log_metric without a step is step 0; logged again, the newer value replaces the older one.
    await post('runs/log-metric', { run_id: id, key: 'acc', value: 0.5, timestamp: 10 });
    await post('runs/log-metric', { run_id: id, key: 'acc', value: 0.7, timestamp: 20 });
    const hist = await t.call('GET', `${api}/metrics/get-history?run_id=${id}&metric_key=loss`);
    expect(hist.json.metrics).toEqual([
      { key: 'loss', value: 1.5, timestamp: 1000, step: 0 },
      { key: 'loss', value: 'NaN', timestamp: 1001, step: 1 },
      { key: 'loss', value: 'Infinity', timestamp: 1002, step: 2 },
      { key: 'loss', value: '-Infinity', timestamp: 1003, step: 3 },
      { key: 'loss', value: 0.25, timestamp: 1004, step: 4 },
    ]);
    const acc = await t.call('GET', `${api}/metrics/get-history?run_id=${id}&metric_key=acc`);
    expect(acc.json.metrics).toEqual([{ key: 'acc', value: 0.7, timestamp: 20, step: 0 }]);
    const run = await getRun(id);
    expect(run.data.metrics).toEqual(
      expect.arrayContaining([
        { key: 'loss', value: 0.25, timestamp: 1004, step: 4 },
        { key: 'acc', value: 0.7, timestamp: 20, step: 0 },
      ]),
    );
    const native = await t.call('GET', `/api/v1/runs/${id}/metric-history?key=loss`);
    expect(native.json.values).toEqual([1.5, 'NaN', 'Infinity', '-Infinity', 0.25]);
    // And heldout's ingest is readable through MLflow.
    await t.call('POST', `/api/v1/runs/${id}/metrics`, {
      metrics: [{ key: 'native', value: 'NaN', step: 7, timestamp: 5 }],
    });
    const fromNative = await t.call(
      'GET',
      `${api}/metrics/get-history?run_uuid=${id}&metric_key=native`,
    );
    expect(fromNative.json.metrics).toEqual([
      { key: 'native', value: 'NaN', timestamp: 5, step: 7 },
    ]);
    const never = await t.call('GET', `${api}/metrics/get-history?run_id=${id}&metric_key=never`);
    expect([never.status, never.json]).toEqual([200, { metrics: [] }]);
  });

  it('pages metric history and samples many runs evenly', async () => {
    const a = (await newRun()).info.run_id as string;
    const b = (await newRun()).info.run_id as string;
    const points = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ key: 'm', value: i, timestamp: i, step: i }));
    await post('runs/log-batch', { run_id: a, metrics: points(250) });
    await post('runs/log-batch', { run_id: b, metrics: points(10) });
    const seen: number[] = [];
    let token: string | undefined;
    do {
      const page = await t.call(
        'GET',
        `${api}/metrics/get-history?run_id=${a}&metric_key=m&max_results=100${token ? `&page_token=${token}` : ''}`,
      );
      seen.push(...page.json.metrics.map((m: { step: number }) => m.step));
      token = page.json.next_page_token;
    } while (token);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i));
    const bad = await t.call(
      'GET',
      `${api}/metrics/get-history?run_id=${a}&metric_key=m&page_token=xyz`,
    );
    expect([bad.status, bad.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);

    const bulk = await t.call(
      'GET',
      `${api}/metrics/get-history-bulk-interval?run_ids=${a}&run_ids=${b}&metric_key=m&max_results=5&start_step=0&end_step=199`,
    );
    expect(bulk.status).toBe(200);
    const ofA = bulk.json.metrics.filter((m: { run_id: string }) => m.run_id === a);
    expect(ofA.map((m: { step: number }) => m.step)).toEqual([39, 79, 119, 159, 199]);
    expect(bulk.json.metrics.filter((m: { run_id: string }) => m.run_id === b)).toHaveLength(5);
    const one = await t.call(
      'GET',
      `${api}/metrics/get-history-bulk-interval?run_ids=${b}&metric_key=m`,
    );
    expect(one.json.metrics).toHaveLength(10);
    const reversed = await t.call(
      'GET',
      `${api}/metrics/get-history-bulk-interval?run_ids=${b}&metric_key=m&start_step=5&end_step=1`,
    );
    expect(reversed.json.message).toContain("'end_step'");
    const noRuns = await t.call('GET', `${api}/metrics/get-history-bulk-interval?metric_key=m`);
    expect(noRuns.json.message).toContain("'run_ids'");
  });

  it('keeps params immutable, sets and deletes tags, renames through mlflow.runName', async () => {
    const id = (await newRun()).info.run_id as string;
    expect(
      (await post('runs/log-parameter', { run_id: id, key: 'lr', value: '0.1' })).json,
    ).toEqual({});
    expect((await post('runs/log-parameter', { run_id: id, key: 'lr', value: '0.1' })).status).toBe(
      200,
    );
    const changed = await post('runs/log-parameter', { run_id: id, key: 'lr', value: '0.2' });
    expect([changed.status, changed.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(changed.json.message).toContain('lr');
    await post('runs/set-tag', { run_id: id, key: 'k', value: 'v' });
    await post('runs/set-tag', { run_id: id, key: 'mlflow.runName', value: 'renamed' });
    let run = await getRun(id);
    expect(run.info.run_name).toBe('renamed');
    expect(run.data.params).toEqual([{ key: 'lr', value: '0.1' }]);
    expect(run.data.tags).toEqual(expect.arrayContaining([{ key: 'k', value: 'v' }]));
    expect((await post('runs/delete-tag', { run_id: id, key: 'k' })).json).toEqual({});
    run = await getRun(id);
    expect(run.data.tags.find((x: { key: string }) => x.key === 'k')).toBeUndefined();
    const missing = await post('runs/delete-tag', { run_id: id, key: 'k' });
    expect([missing.status, missing.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    // heldout's params are MLflow's.
    await t.call('POST', `/api/v1/runs/${id}/params`, { params: { batch: '32' } });
    expect((await getRun(id)).data.params).toEqual(
      expect.arrayContaining([{ key: 'batch', value: '32' }]),
    );
  });

  it('logs a batch all-or-nothing within its limits', async () => {
    const id = (await newRun()).info.run_id as string;
    const ok = await post('runs/log-batch', {
      run_id: id,
      metrics: [
        { key: 'a', value: 1, timestamp: 1, step: 0 },
        { key: 'b', value: 'NaN', timestamp: 1 },
      ],
      params: [{ key: 'p', value: '1' }],
      tags: [{ key: 't', value: 'x' }],
    });
    expect([ok.status, ok.json]).toEqual([200, {}]);
    const conflict = await post('runs/log-batch', {
      run_id: id,
      metrics: [{ key: 'c', value: 1, timestamp: 1, step: 0 }],
      params: [{ key: 'p', value: '2' }],
      tags: [{ key: 't2', value: 'y' }],
    });
    expect([conflict.status, conflict.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    const run = await getRun(id);
    expect(run.data.metrics.map((m: { key: string }) => m.key).sort()).toEqual(['a', 'b']);
    expect(run.data.tags.find((x: { key: string }) => x.key === 't2')).toBeUndefined();
    const tooMany = await post('runs/log-batch', {
      run_id: id,
      params: Array.from({ length: 101 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
    });
    expect([tooMany.status, tooMany.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(tooMany.json.message).toContain("'params'");
    const total = await post('runs/log-batch', {
      run_id: id,
      metrics: Array.from({ length: 950 }, (_, i) => ({
        key: 'm',
        value: i,
        timestamp: 1,
        step: i,
      })),
      tags: Array.from({ length: 51 }, (_, i) => ({ key: `t${i}`, value: 'v' })),
    });
    expect(total.status).toBe(400);
  });

  it('stores log-inputs datasets and shows them as the run inputs', async () => {
    const id = (await newRun()).info.run_id as string;
    const dataset = {
      name: 'bank',
      digest: 'abc123',
      source_type: 'local',
      source: '{"uri": "/data/bank.csv"}',
      schema: '{"mlflow_colspec": []}',
    };
    const res = await post('runs/log-inputs', {
      run_id: id,
      datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset }],
    });
    expect([res.status, res.json]).toEqual([200, {}]);
    await post('runs/log-inputs', {
      run_id: id,
      datasets: [{ dataset: { ...dataset, digest: 'def456' } }],
    });
    const run = await getRun(id);
    expect(run.inputs.dataset_inputs).toEqual([
      { tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset },
      { dataset: { ...dataset, digest: 'def456' } },
    ]);
    expect(
      run.data.tags.find((x: { key: string }) => x.key.startsWith('mlflow.heldout')),
    ).toBeUndefined();
    const reserved = await post('runs/set-tag', {
      run_id: id,
      key: 'mlflow.heldout.inputs',
      value: '[]',
    });
    expect(reserved.json.error_code).toBe('INVALID_PARAMETER_VALUE');
    const bad = await post('runs/log-inputs', {
      run_id: id,
      datasets: [{ dataset: { name: 'x' } }],
    });
    expect(bad.json.message).toContain("'datasets.0.dataset.digest'");
  });

  it('soft-deletes and restores runs; a deleted run is readable but not writable', async () => {
    const id = (await newRun()).info.run_id as string;
    expect((await post('runs/delete', { run_id: id })).json).toEqual({});
    expect((await getRun(id)).info.lifecycle_stage).toBe('deleted');
    const write = await post('runs/log-parameter', { run_id: id, key: 'a', value: 'b' });
    expect([write.status, write.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect((await post('runs/delete', { run_id: id })).status).toBe(200);
    expect((await post('runs/restore', { run_uuid: id })).json).toEqual({});
    expect((await getRun(id)).info.lifecycle_stage).toBe('active');
    expect((await post('runs/log-parameter', { run_id: id, key: 'a', value: 'b' })).status).toBe(
      200,
    );
  });

  it('authorises per project: read tokens read, write tokens write, other projects are refused', async () => {
    const id = (await newRun()).info.run_id as string;
    const reader = (
      await t.call('POST', `/api/v1/projects/${experimentId}/tokens`, { name: 'r', role: 'read' })
    ).json.token;
    expect((await t.call('GET', `${api}/runs/get?run_id=${id}`, undefined, reader)).status).toBe(
      200,
    );
    const w = await t.call(
      'POST',
      `${api}/runs/log-metric`,
      { run_id: id, key: 'x', value: 1, timestamp: 1 },
      reader,
    );
    expect([w.status, w.json.error_code]).toEqual([403, 'PERMISSION_DENIED']);
    const other = (await t.call('POST', `${api}/experiments/create`, { name: 'elsewhere' })).json
      .experiment_id;
    const stranger = (
      await t.call('POST', `/api/v1/projects/${other}/tokens`, { name: 'w', role: 'write' })
    ).json.token;
    const r = await t.call('GET', `${api}/runs/get?run_id=${id}`, undefined, stranger);
    expect([r.status, r.json.error_code]).toEqual([403, 'PERMISSION_DENIED']);
  });
});
