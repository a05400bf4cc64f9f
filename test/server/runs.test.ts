import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  await t.call('POST', '/api/v1/projects', { name: 'runs' });
});
afterAll(() => database.drop());

const newRun = async (body: object = {}) =>
  (await t.call('POST', '/api/v1/projects/runs/runs', body)).json;

describe('runs', () => {
  it('are created with params, tags and lineage, and read back whole', async () => {
    const parent = await newRun({ name: 'base-sweep' });
    const res = await t.call('POST', '/api/v1/projects/runs/runs', {
      name: 'lora-r8',
      params: { lr: '3e-4', rank: '8' },
      tags: { team: 'legal' },
      parentRunId: parent.id,
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      name: 'lora-r8',
      status: 'running',
      plugin: null,
      params: { lr: '3e-4', rank: '8' },
      tags: { team: 'legal' },
      parentRunId: parent.id,
      metrics: {},
      startedAt: expect.any(String),
    });
    expect((await t.call('GET', `/api/v1/runs/${res.json.id}`)).json).toEqual(res.json);
  });

  it('with a plugin wait in queued for a worker', async () => {
    const res = await t.app.request('/api/v1/projects/runs/datasets/tiny/versions?kind=sft', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/x-ndjson' },
      body: '{"prompt":"a","response":"b"}\n',
    });
    const version = (await res.json()) as { id: number };
    const run = await newRun({
      plugin: 'full',
      datasets: [{ datasetVersionId: version.id, role: 'train' }],
    });
    expect(run).toMatchObject({
      status: 'queued',
      plugin: 'full',
      pluginVersion: '1.0.0',
      startedAt: null,
    });
    expect(run.datasets).toEqual([{ datasetVersionId: version.id, role: 'train' }]);
    expect(run.name).toMatch(/^run-[0-9a-f]{8}$/);
  });

  it('refuse a parent or dataset from nowhere with a 400 naming the field', async () => {
    const res = await t.call('POST', '/api/v1/projects/runs/runs', {
      parentRunId: '00000000-0000-4000-8000-000000000000',
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/^parentRunId: no run/);
    const ds = await t.call('POST', '/api/v1/projects/runs/runs', {
      datasets: [{ datasetVersionId: 999, role: 'train' }],
    });
    expect(ds.status).toBe(400);
    expect(ds.json.error.message).toBe('datasets: no dataset version 999 in this project');
    const bad = await t.call('POST', '/api/v1/projects/runs/runs', {
      datasets: [{ datasetVersionId: 1, role: 'test' }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^datasets\.0\.role: /);
  });

  it('move through their statuses and refuse going back', async () => {
    const run = await newRun();
    const done = await t.call('PATCH', `/api/v1/runs/${run.id}`, { status: 'finished' });
    expect(done.json).toMatchObject({ status: 'finished', endedAt: expect.any(String) });
    const back = await t.call('PATCH', `/api/v1/runs/${run.id}`, { status: 'running' });
    expect(back.status).toBe(409);
    expect(back.json.error.message).toBe('status: run is finished and cannot become running');
    expect((await t.call('PATCH', `/api/v1/runs/${run.id}`, { status: 'finished' })).status).toBe(
      200,
    );
  });

  it('answer 404 for an unknown run and 400 for an id that is no UUID', async () => {
    expect((await t.call('GET', '/api/v1/runs/00000000-0000-4000-8000-000000000000')).status).toBe(
      404,
    );
    const bad = await t.call('GET', '/api/v1/runs/not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toBe('runId: must be a UUID');
  });
});

describe('params', () => {
  it('are immutable: the same value again is fine, a different one is 409 naming both, all-or-nothing', async () => {
    const run = await newRun({ params: { lr: '0.1' } });
    expect(
      (await t.call('POST', `/api/v1/runs/${run.id}/params`, { params: { lr: '0.1', seed: '1' } }))
        .status,
    ).toBe(200);
    const clash = await t.call('POST', `/api/v1/runs/${run.id}/params`, {
      params: { lr: '0.2', epochs: '3' },
    });
    expect(clash.status).toBe(409);
    expect(clash.json.error.message).toBe('params are immutable: "lr" is already "0.1", not "0.2"');
    expect(clash.json.error.details).toEqual({
      conflicts: [{ key: 'lr', stored: '0.1', given: '0.2' }],
    });
    expect((await t.call('GET', `/api/v1/runs/${run.id}`)).json.params).toEqual({
      lr: '0.1',
      seed: '1',
    });
  });

  it('hold values up to the limits', async () => {
    const run = await newRun();
    const value = 'v'.repeat(6000);
    expect(
      (await t.call('POST', `/api/v1/runs/${run.id}/params`, { params: { long: value } })).status,
    ).toBe(200);
    expect(
      (await t.call('PUT', `/api/v1/runs/${run.id}/tags`, { tags: { long: 't'.repeat(8000) } }))
        .status,
    ).toBe(200);
    const got = (await t.call('GET', `/api/v1/runs/${run.id}`)).json;
    expect([got.params.long.length, got.tags.long.length]).toEqual([6000, 8000]);
  });

  it('are validated: key and value length, control characters', async () => {
    const run = await newRun();
    const long = await t.call('POST', `/api/v1/runs/${run.id}/params`, {
      params: { lr: 'x'.repeat(6001) },
    });
    expect(long.status).toBe(400);
    expect(long.json.error.message).toBe('params.lr: must be at most 6000 characters');
    const ctl = await t.call('POST', `/api/v1/runs/${run.id}/params`, {
      params: { 'a\u0000b': '1' },
    });
    expect(ctl.status).toBe(400);
    expect(ctl.json.error.message).toBe(
      'params: key "a\\u0000b" must not contain control characters or start or end with whitespace',
    );
  });
});

describe('tags', () => {
  it('are set (merged) and deleted', async () => {
    const run = await newRun({ tags: { a: '1' } });
    await t.call('PUT', `/api/v1/runs/${run.id}/tags`, { tags: { a: '2', 'b/c': '3' } });
    expect((await t.call('GET', `/api/v1/runs/${run.id}`)).json.tags).toEqual({
      a: '2',
      'b/c': '3',
    });
    expect((await t.call('DELETE', `/api/v1/runs/${run.id}/tags?key=b%2Fc`)).status).toBe(200);
    expect((await t.call('DELETE', `/api/v1/runs/${run.id}/tags?key=b%2Fc`)).status).toBe(404);
    expect((await t.call('GET', `/api/v1/runs/${run.id}`)).json.tags).toEqual({ a: '2' });
  });
});

describe('authorisation on runs', () => {
  it('needs write on the run’s project to change it, read to see it', async () => {
    await t.call('POST', '/api/v1/projects', { name: 'elsewhere' });
    const reader = (
      await t.call('POST', '/api/v1/projects/runs/tokens', { name: 'r', role: 'read' })
    ).json.token;
    const stranger = (
      await t.call('POST', '/api/v1/projects/elsewhere/tokens', { name: 's', role: 'write' })
    ).json.token;
    const run = await newRun();
    expect((await t.call('GET', `/api/v1/runs/${run.id}`, undefined, reader)).status).toBe(200);
    expect(
      (await t.call('PUT', `/api/v1/runs/${run.id}/tags`, { tags: { x: '1' } }, reader)).status,
    ).toBe(403);
    expect((await t.call('GET', `/api/v1/runs/${run.id}`, undefined, stranger)).status).toBe(403);
    expect((await t.call('POST', '/api/v1/projects/runs/runs', {}, reader)).status).toBe(403);
    expect((await t.call('GET', `/api/v1/runs/${run.id}`, undefined, null)).status).toBe(401);
  });
});
