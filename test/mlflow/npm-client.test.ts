import { createRequire } from 'node:module';
import type * as MlflowModule from 'mlflow';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateToken } from '../../server/auth/tokens.ts';
import { startLiveServer } from '../helpers/live-server.ts';

// The npm `mlflow` client (2.0.7), a client others wrote, against a real listening server.
// CommonJS with a default-export typing: the class is the module's `default` for the types.
type MLflowClass = (typeof MlflowModule)['default']['default'];
type MLflowClient = InstanceType<MLflowClass>;
const MLflow = createRequire(import.meta.url)('mlflow') as MLflowClass;

const token = generateToken();
let live: Awaited<ReturnType<typeof startLiveServer>>;
let mlflow: MLflowClient;
beforeAll(async () => {
  live = await startLiveServer(token);
  mlflow = new MLflow({ endpoint: live.server.url, headers: { Authorization: `Bearer ${token}` } });
  // The client prints every POST body.
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterAll(async () => {
  vi.restoreAllMocks();
  await live?.close();
});

const native = async (path: string) => {
  const res = await fetch(`${live.server.url}/api/v1${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
};

describe('the npm mlflow client against heldout', () => {
  it('drives experiments: create, get, list, update, tag, delete, restore', async () => {
    const { experiment_id } = await mlflow.Experiments.create({
      name: 'npm-exp',
      artifact_location: '',
    });
    expect(experiment_id).toMatch(/^\d+$/);
    const { experiment } = await mlflow.Experiments.get({ experiment_id });
    expect(experiment).toMatchObject({ experiment_id, name: 'npm-exp', lifecycle_stage: 'active' });
    expect((await mlflow.Experiments.list()).experiments.map((e) => e.name)).toContain('npm-exp');
    await mlflow.Experiments.update({ experiment_id, new_name: 'npm-exp-2' });
    await mlflow.Experiments.setExperimentTag({ experiment_id, key: 'team', value: 'risk' });
    expect((await mlflow.Experiments.get({ experiment_id })).experiment).toMatchObject({
      name: 'npm-exp-2',
      tags: [{ key: 'team', value: 'risk' }],
    });
    await mlflow.Experiments.delete({ experiment_id });
    expect(
      (await mlflow.Experiments.list({ view_type: 'DELETED_ONLY' as never })).experiments.map(
        (e) => e.experiment_id,
      ),
    ).toEqual([experiment_id]);
    await mlflow.Experiments.restore({ experiment_id });
    expect((await mlflow.Experiments.get({ experiment_id })).experiment.lifecycle_stage).toBe(
      'active',
    );
    await expect(mlflow.Experiments.get({ experiment_id: '999999' })).rejects.toThrow(
      /RESOURCE_DOES_NOT_EXIST/,
    );
    await expect(
      mlflow.Experiments.create({ name: 'npm-exp-2', artifact_location: '' }),
    ).rejects.toThrow(/RESOURCE_ALREADY_EXISTS/);
  });

  it('drives runs and metrics, and the data is heldout data', async () => {
    const { experiment_id } = await mlflow.Experiments.create({
      name: 'npm-runs',
      artifact_location: '',
    });
    const { run } = await mlflow.Runs.create({
      experiment_id,
      user_id: 'ada',
      start_time: 1_700_000_000_000,
      tags: [{ key: 'mlflow.runName', value: 'npm-run' }],
    });
    const run_id = run.info.run_id;
    expect(run.info).toMatchObject({
      run_uuid: run_id,
      experiment_id,
      user_id: 'ada',
      status: 'RUNNING',
      start_time: 1_700_000_000_000,
    });
    for (let step = 0; step < 5; step++)
      await mlflow.Runs.logMetric({
        run_id,
        key: 'loss',
        value: 1 / (step + 1),
        timestamp: 1000 + step,
        step,
      });
    await mlflow.Runs.logMetric({ run_id, key: 'diverged', value: 'NaN' as never, timestamp: 5 });
    await mlflow.Runs.logParameter({ run_id, key: 'lr', value: '0.1' });
    await expect(mlflow.Runs.logParameter({ run_id, key: 'lr', value: '0.2' })).rejects.toThrow(
      /INVALID_PARAMETER_VALUE/,
    );
    await mlflow.Runs.setTag({ run_id, key: 'stage', value: 'dev' });
    await mlflow.Runs.setTag({ run_id, key: 'gone', value: 'x' });
    await mlflow.Runs.deleteTag({ run_id, key: 'gone' });
    await mlflow.Runs.logBatch({
      run_id,
      metrics: [{ key: 'acc', value: 0.9, timestamp: 7, step: 0 }],
      params: [{ key: 'batch', value: '32' }],
      tags: [{ key: 'owner', value: 'ml' }],
    });
    const history = await mlflow.Metrics.getHistory({ run_id, metric_key: 'loss' });
    expect(history.metrics.map((m) => m.step)).toEqual([0, 1, 2, 3, 4]);
    expect(
      (await mlflow.Metrics.getHistory({ run_id, metric_key: 'diverged' })).metrics[0]!.value,
    ).toBe('NaN');

    const got = (await mlflow.Runs.get({ run_id })).run;
    expect(got.info).toMatchObject({ run_name: 'npm-run' }); // newer than the client's types
    expect(got.data.params).toEqual(
      expect.arrayContaining([
        { key: 'lr', value: '0.1' },
        { key: 'batch', value: '32' },
      ]),
    );
    expect(got.data.tags).toEqual(
      expect.arrayContaining([
        { key: 'stage', value: 'dev' },
        { key: 'owner', value: 'ml' },
      ]),
    );
    expect(got.data.tags?.find((t) => t.key === 'gone')).toBeUndefined();

    // The same run through heldout's own API.
    const same = await native(`/runs/${run_id}`);
    expect(same).toMatchObject({
      name: 'npm-run',
      status: 'running',
      params: { lr: '0.1', batch: '32' },
      tags: { stage: 'dev' },
    });
    expect(same.metrics.loss).toMatchObject({ step: 4, value: 0.2 });
    expect((await native(`/runs/${run_id}/metric-history?key=loss`)).steps).toEqual([
      0, 1, 2, 3, 4,
    ]);

    const search = await mlflow.Runs.search({
      experiment_ids: [experiment_id],
      filter: "metrics.loss < 0.5 and params.lr = '0.1'",
      order_by: ['attributes.start_time DESC'],
      max_results: 10,
    });
    expect(search.runs.map((r) => r.info.run_id)).toEqual([run_id]);

    const { run_info } = await mlflow.Runs.update({
      run_id,
      status: 'FINISHED' as never,
      end_time: 1_700_000_100_000,
    });
    expect(run_info).toMatchObject({ status: 'FINISHED', end_time: 1_700_000_100_000 });
    expect((await native(`/runs/${run_id}`)).status).toBe('finished');

    await mlflow.Runs.delete({ run_id });
    expect((await mlflow.Runs.search({ experiment_ids: [experiment_id] })).runs).toEqual([]);
    await mlflow.Runs.restore({ run_id });
    expect((await mlflow.Runs.get({ run_id })).run.info.lifecycle_stage).toBe('active');
  });

  it('reads runs that heldout created through its own API', async () => {
    const project = await live.client.projects.create({ name: 'native-proj' });
    const run = await live.client.runs.create('native-proj', {
      name: 'native-run',
      params: { lr: '3e-4' },
    });
    const { run: seen } = await mlflow.Runs.get({ run_id: run.id });
    expect(seen.info).toMatchObject({
      run_id: run.id,
      experiment_id: String(project.id),
      run_name: 'native-run',
    });
    expect(seen.data.params).toEqual([{ key: 'lr', value: '3e-4' }]);
  });
});
