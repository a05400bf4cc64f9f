import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  await t.call('POST', '/api/v1/projects', { name: 'metrics' });
});
afterAll(() => database.drop());

const newRun = async () =>
  (await t.call('POST', '/api/v1/projects/metrics/runs', {})).json as { id: string };
const log = (runId: string, metrics: object[]) =>
  t.call('POST', `/api/v1/runs/${runId}/metrics`, { metrics });
const history = (runId: string, query: string) =>
  t.call('GET', `/api/v1/runs/${runId}/metric-history?${query}`);

describe('metric ingest', () => {
  it('stores many keys x steps in one batch, with NaN and infinities', async () => {
    const run = await newRun();
    const res = await log(run.id, [
      { key: 'train/loss', step: 0, value: 2.5, timestamp: 1_000 },
      { key: 'train/loss', step: 1, value: 'NaN', timestamp: 1_001 },
      { key: 'train/loss', step: 2, value: 1.5, timestamp: 1_002 },
      { key: 'grad_norm', step: 0, value: 'Infinity', timestamp: 1_000 },
      { key: 'grad_norm', step: 1, value: '-Infinity', timestamp: 1_001 },
    ]);
    expect(res.json).toEqual({ stored: 5 });
    const h = await history(run.id, 'key=train%2Floss');
    expect(h.json).toEqual({
      key: 'train/loss',
      steps: [0, 1, 2],
      values: [2.5, 'NaN', 1.5],
      wallTimes: [1000, 1001, 1002],
      nextAfterStep: null,
    });
    const list = await t.call('GET', `/api/v1/runs/${run.id}/metrics`);
    expect(list.json.metrics).toEqual([
      {
        key: 'grad_norm',
        lastStep: 1,
        lastValue: '-Infinity',
        lastWallTime: 1001,
        min: '-Infinity',
        max: 'Infinity',
      },
      { key: 'train/loss', lastStep: 2, lastValue: 1.5, lastWallTime: 1002, min: 1.5, max: 2.5 },
    ]);
    expect((await t.call('GET', `/api/v1/runs/${run.id}`)).json.metrics['train/loss']).toEqual({
      step: 2,
      value: 1.5,
      wallTime: 1002,
    });
  });

  it('is idempotent: re-sending a batch, or a step, leaves one point per step (last write wins)', async () => {
    const run = await newRun();
    const batch = [
      { key: 'loss', step: 0, value: 3, timestamp: 1 },
      { key: 'loss', step: 1, value: 2, timestamp: 2 },
    ];
    await log(run.id, batch);
    await log(run.id, batch);
    await log(run.id, [{ key: 'loss', step: 1, value: 1.75, timestamp: 3 }]);
    // The same step twice in one batch: the later one counts, as a re-log would.
    await log(run.id, [
      { key: 'loss', step: 2, value: 9, timestamp: 4 },
      { key: 'loss', step: 2, value: 1.5, timestamp: 5 },
    ]);
    const h = await history(run.id, 'key=loss');
    expect(h.json).toMatchObject({
      steps: [0, 1, 2],
      values: [3, 1.75, 1.5],
      wallTimes: [1, 3, 5],
    });
  });

  it('keeps keys exactly, whatever punctuation they hold', async () => {
    const run = await newRun();
    const keys = ['a"b', 'c\\d', 'e,f', '{g}', 'h i', 'NULL', 'é/損失'];
    await log(
      run.id,
      keys.map((key, step) => ({ key, step, value: step })),
    );
    const list = await t.call('GET', `/api/v1/runs/${run.id}/metrics`);
    expect(list.json.metrics.map((m: { key: string }) => m.key).sort()).toEqual([...keys].sort());
  });

  it('keeps the latest point by step even when an older step arrives later', async () => {
    const run = await newRun();
    await log(run.id, [{ key: 'acc', step: 10, value: 0.9, timestamp: 10 }]);
    await log(run.id, [{ key: 'acc', step: 5, value: 0.5, timestamp: 11 }]);
    const list = await t.call('GET', `/api/v1/runs/${run.id}/metrics`);
    expect(list.json.metrics[0]).toMatchObject({
      lastStep: 10,
      lastValue: 0.9,
      min: 0.5,
      max: 0.9,
    });
  });

  it('is all-or-nothing: one bad point rejects the batch with the field named, nothing stored', async () => {
    const run = await newRun();
    const res = await log(run.id, [
      { key: 'loss', step: 0, value: 1 },
      { key: 'loss', step: 1.5, value: 1 },
    ]);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('metrics.1.step: must be an integer');
    const bad = await log(run.id, [{ key: 'loss', step: 0, value: 'lots' }]);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^metrics\.0\.value: /);
    expect((await t.call('GET', `/api/v1/runs/${run.id}/metrics`)).json.metrics).toEqual([]);
  });

  it('refuses oversized batches and bodies', async () => {
    const run = await newRun();
    const many = Array.from({ length: 10_001 }, (_, i) => ({ key: 'k', step: i, value: i }));
    const res = await log(run.id, many);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('metrics: at most 10000 points per request');

    const small = await testApp(database, { HELDOUT_MAX_JSON_BYTES: '2048' });
    const big = await small.call('POST', `/api/v1/runs/${run.id}/metrics`, {
      metrics: Array.from({ length: 100 }, (_, i) => ({ key: 'k', step: i, value: i })),
    });
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('payload_too_large');
  });
});

describe('metric history', () => {
  it('pages by step (keyset) and honours a step window', async () => {
    const run = await newRun();
    await log(
      run.id,
      Array.from({ length: 25 }, (_, i) => ({ key: 'x', step: i * 2, value: i })),
    );
    const pages: number[][] = [];
    let after: number | null | undefined;
    do {
      const h = await history(
        run.id,
        `key=x&limit=10${after === undefined ? '' : `&afterStep=${after}`}`,
      );
      pages.push(h.json.steps);
      after = h.json.nextAfterStep;
    } while (after !== null);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i * 2));
    const window = await history(run.id, 'key=x&minStep=10&maxStep=20');
    expect(window.json.steps).toEqual([10, 12, 14, 16, 18, 20]);
  });

  it('returns points in step order however they arrived, infinities included', async () => {
    const run = await newRun();
    const steps = Array.from({ length: 500 }, (_, i) => (i * 7919) % 500); // a permutation
    for (let b = 0; b < 5; b++) {
      await log(
        run.id,
        steps.slice(b * 100, b * 100 + 100).map((step) => ({
          key: 'p',
          step,
          value: step === 7 ? 'Infinity' : step === 8 ? '-Infinity' : step / 2,
        })),
      );
    }
    const h = await history(run.id, 'key=p&limit=300');
    expect(h.json.steps).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(h.json.values.slice(6, 10)).toEqual([3, 'Infinity', '-Infinity', 4.5]);
    expect(h.json.nextAfterStep).toBe(299);
    const rest = await history(run.id, 'key=p&limit=300&afterStep=299');
    expect(rest.json).toMatchObject({
      steps: Array.from({ length: 200 }, (_, i) => 300 + i),
      nextAfterStep: null,
    });
  });

  it('downsamples into buckets of min / max / last in SQL, and zooms with a step window', async () => {
    const run = await newRun();
    const t0 = 1_700_000_000_000;
    const points = Array.from({ length: 1000 }, (_, step) => ({
      key: 'loss',
      step,
      value: step % 10 === 3 ? 100 : step / 1000,
      timestamp: t0 + step * 1000,
    }));
    points[500] = { key: 'loss', step: 500, value: 'NaN' as unknown as number, timestamp: t0 };
    await log(run.id, points);
    const all = await history(run.id, 'key=loss&buckets=10');
    expect(all.json.buckets).toHaveLength(10);
    expect(all.json.buckets[0]).toEqual({
      stepMin: 0,
      stepMax: 99,
      count: 100,
      min: 0,
      max: 100,
      last: 0.099,
      // The last point's: the x of the bucket on a wall-time or relative-time axis.
      wallTime: t0 + 99_000,
    });
    // NaN is neither a minimum nor a maximum, but it is what was last logged in its bucket if so.
    expect(all.json.buckets[5]).toMatchObject({ stepMin: 500, min: 0.501, max: 100 });
    expect(all.json.buckets.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(1000);

    const zoom = await history(run.id, 'key=loss&buckets=4&minStep=100&maxStep=139');
    expect(
      zoom.json.buckets.map((b: { stepMin: number; stepMax: number }) => [b.stepMin, b.stepMax]),
    ).toEqual([
      [100, 109],
      [110, 119],
      [120, 129],
      [130, 139],
    ]);
  });

  it('answers 404 for a metric the run does not have', async () => {
    const run = await newRun();
    const res = await history(run.id, 'key=nope');
    expect(res.status).toBe(404);
    expect(res.json.error.message).toBe(
      `metric "nope" not found`.replace('metric "nope"', `metric "nope" on run ${run.id}`),
    );
  });
});
