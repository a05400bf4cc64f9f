import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
});
afterAll(() => database.drop());

describe("MLflow's default experiment", () => {
  it('refuses a token that cannot create projects, naming what to do', async () => {
    await t.call('POST', '/api/v1/projects', { name: 'team' });
    const scoped = await t.call('POST', '/api/v1/projects/team/tokens', {
      name: 'ci',
      role: 'write',
    });
    const res = await t.call(
      'POST',
      '/api/2.0/mlflow/runs/create',
      { experiment_id: '0' },
      scoped.json.token,
    );
    expect([res.status, res.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(res.json.message).toMatch(/^experiment_id: set an experiment .* no project 'Default'/);
  });

  it('is the project "Default": start_run() with no experiment set logs there', async () => {
    const created = await t.call('POST', '/api/2.0/mlflow/runs/create', { experiment_id: '0' });
    expect(created.status, created.text).toBe(200);
    const runId = created.json.run.info.run_id;
    const project = await t.call('GET', '/api/v1/projects/Default');
    expect(project.status).toBe(200);
    expect(created.json.run.info.experiment_id).toBe(String(project.json.id));
    // The same run, through heldout's own API; a second use finds the same project.
    expect((await t.call('GET', `/api/v1/runs/${runId}`)).json.projectId).toBe(project.json.id);
    const again = await t.call('POST', '/api/2.0/mlflow/runs/create', { experiment_id: '0' });
    expect(again.json.run.info.experiment_id).toBe(String(project.json.id));
    const got = await t.call('GET', '/api/2.0/mlflow/experiments/get?experiment_id=0');
    expect(got.json.experiment.name).toBe('Default');
  });

  it('answers a conflict with MLflow status 400, not 409', async () => {
    await t.call('POST', '/api/2.0/mlflow/experiments/create', { name: 'dup' });
    const dup = await t.call('POST', '/api/2.0/mlflow/experiments/create', { name: 'dup' });
    expect([dup.status, dup.json.error_code]).toEqual([400, 'RESOURCE_ALREADY_EXISTS']);
  });
});
