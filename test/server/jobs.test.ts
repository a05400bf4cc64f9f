import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../server/db/schema/index.ts';
import { reapStaleJobs } from '../../server/services/jobs.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let train: number;
let validation: number;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  await t.call('POST', '/api/v1/projects', { name: 'jobs' });
  const upload = async (name: string, rows: object[]) => {
    const res = await t.app.request(`/api/v1/projects/jobs/datasets/${name}/versions?kind=sft`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/x-ndjson' },
      body: rows.map((r) => JSON.stringify(r)).join('\n') + '\n',
    });
    return ((await res.json()) as { id: number }).id;
  };
  train = await upload('train', [{ prompt: 'Add: 1+1=', response: '2' }]);
  validation = await upload('valid', [{ prompt: 'Add: 2+2=', response: '4' }]);
}, 60_000);
afterAll(() => database.drop());

const submit = async () => {
  const res = await t.call('POST', '/api/v1/projects/jobs/runs', {
    plugin: 'full',
    config: { steps: 5, warmupSteps: 1 },
    datasets: [
      { datasetVersionId: train, role: 'train' },
      { datasetVersionId: validation, role: 'validation' },
    ],
  });
  expect(res.status).toBe(201);
  return res.json.id as string;
};
const claim = (workerId = 'w1', token?: string | null) =>
  t.call('POST', '/api/v1/jobs/claim', { workerId }, token);
const claimUntil = async (workerId: string) => {
  for (let i = 0; i < 80; i++) {
    const res = await claim(workerId);
    if (res.status === 200) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no job became claimable');
};
const run = async (id: string) => (await t.call('GET', `/api/v1/runs/${id}`)).json;
const drain = async () => {
  while ((await claim('drain')).status === 200);
};

describe('the worker protocol', () => {
  it('hands a submitted run to one worker with everything it needs to train', async () => {
    await drain();
    expect((await claim()).status).toBe(204);
    const runId = await submit();
    const res = await claim('host:1:cpu0');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      job: { attempt: 1 },
      run: { id: runId, plugin: 'full', pluginVersion: '1.0.0', config: { steps: 5, seed: 0 } },
      baseModel: { kind: 'builtin', name: 'tiny-base' },
    });
    expect(res.json.datasets.map((d: { role: string }) => d.role).sort()).toEqual([
      'train',
      'validation',
    ]);
    // The paths are ordinary API paths the worker downloads with its token.
    const content = await t.call('GET', `/api/v1${res.json.datasets[0].path}`);
    expect(content.status).toBe(200);
    expect((await claim('someone-else')).status).toBe(204);
    expect((await run(runId)).status).toBe('running');
    const beat = await t.call('POST', `/api/v1/jobs/${res.json.job.id}/heartbeat`, {
      workerId: 'host:1:cpu0',
    });
    expect(beat.json).toEqual({ stop: false });
    const done = await t.call('POST', `/api/v1/jobs/${res.json.job.id}/complete`, {
      workerId: 'host:1:cpu0',
      result: { steps: 5 },
    });
    expect(done.status).toBe(200);
    expect((await run(runId)).status).toBe('finished');
  });

  it('needs a token that covers every project, and names what is wrong in a request', async () => {
    const token = await t.call('POST', '/api/v1/projects/jobs/tokens', {
      name: 'project writer',
      role: 'write',
    });
    const res = await claim('w1', token.json.token);
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/not tied to one project/);
    expect((await claim('w1', null)).status).toBe(401);
    const bad = await t.call('POST', '/api/v1/jobs/claim', { workerId: '' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^workerId: /);
    const wrongJob = await t.call('POST', '/api/v1/jobs/not-a-uuid/heartbeat', { workerId: 'w' });
    expect(wrongJob.status).toBe(400);
    // Polls and heartbeats (every second per worker) stay out of the info log; refusals do not.
    const claims = t.logLines.filter((l) => l.msg === 'request' && l.path === '/api/v1/jobs/claim');
    expect(claims.map((l) => l.status).sort()).toEqual([400, 401, 403]);
  });

  it('retries a transient failure as a new attempt, and fails the run at once on a bad config', async () => {
    await drain();
    const runId = await submit();
    const first = await claim('w1');
    const retry = await t.call('POST', `/api/v1/jobs/${first.json.job.id}/fail`, {
      workerId: 'w1',
      error: 'TransientError: disk full',
      retryable: true,
    });
    expect(retry.json).toEqual({ outcome: 'retry' });
    expect(await run(runId)).toMatchObject({
      status: 'queued',
      error: 'TransientError: disk full',
    });
    const second = await claimUntil('w2');
    expect(second.json.job).toEqual({ id: first.json.job.id, attempt: 2 });
    // The first worker lost the job: its reports are refused, its heartbeat says stop.
    const stale = await t.call('POST', `/api/v1/jobs/${first.json.job.id}/complete`, {
      workerId: 'w1',
      result: { steps: 5 },
    });
    expect(stale.status).toBe(409);
    const fatal = await t.call('POST', `/api/v1/jobs/${first.json.job.id}/fail`, {
      workerId: 'w2',
      error: 'PluginConfigError: maxLength: too short',
      retryable: false,
    });
    expect(fatal.json).toEqual({ outcome: 'failed' });
    expect(await run(runId)).toMatchObject({
      status: 'failed',
      error: 'PluginConfigError: maxLength: too short',
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await claim('w3')).status).toBe(204);
  });

  it('tells the worker to stop when the run is cancelled, and never starts a cancelled waiting run', async () => {
    await drain();
    const running = await submit();
    const job = (await claim('w1')).json.job.id;
    await t.call('PATCH', `/api/v1/runs/${running}`, { status: 'cancelled' });
    const beat = await t.call('POST', `/api/v1/jobs/${job}/heartbeat`, { workerId: 'w1' });
    expect(beat.json).toEqual({ stop: true, reason: 'cancelled' });

    const waiting = await submit();
    await t.call('PATCH', `/api/v1/runs/${waiting}`, { status: 'cancelled' });
    expect((await claim('w1')).status).toBe(204);
    expect((await run(waiting)).status).toBe('cancelled');
  });

  it('retries a job whose worker went silent, and the silent worker is told it lost the job', async () => {
    await drain();
    const runId = await submit();
    const job = (await claim('w1')).json.job.id as string;
    expect(await reapStaleJobs(database.db, t.queue, 30)).toEqual([]);
    await database.db
      .update(jobs)
      .set({ heartbeatAt: sql`now() - interval '1 minute'` })
      .where(eq(jobs.id, job));
    expect(await reapStaleJobs(database.db, t.queue, 30)).toEqual([job]);
    expect((await run(runId)).status).toBe('queued');
    const beat = await t.call('POST', `/api/v1/jobs/${job}/heartbeat`, { workerId: 'w1' });
    expect(beat.json).toEqual({ stop: true, reason: 'reassigned' });
    const again = await claimUntil('w2');
    expect(again.json.job).toEqual({ id: job, attempt: 2 });
  });
});
