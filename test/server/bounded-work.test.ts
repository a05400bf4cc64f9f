import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startLiveServer } from '../helpers/live-server.ts';

/**
 * Issue 21's attacks on bounded work: a run with tens of thousands of metric keys blocking every
 * project, lists that stop without saying so, requests hanging on a stalled Postgres, and client
 * mistakes answered 500 (LIKE patterns, forged page tokens, deeply nested gate policies).
 */

const api = '/api/v1';
const mlflow = '/api/2.0/mlflow';
const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
const uuid = '00000000-0000-4000-8000-000000000000';

describe('a run with 40,000 metric keys', { timeout: 180_000 }, () => {
  const token = 'hld_bounded-work-admin-token';
  let live: Awaited<ReturnType<typeof startLiveServer>>;
  let runId: string;
  let experimentId: string;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(live.server.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: any = await res.json(); // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read what came back
    return { status: res.status, json };
  };

  beforeAll(async () => {
    live = await startLiveServer(token, { env: { HELDOUT_MAX_METRIC_KEYS: '40000' } });
    experimentId = String((await call('POST', `${api}/projects`, { name: 'wide' })).json.id);
    runId = (await call('POST', `${api}/projects/wide/runs`, { name: 'wide-run' })).json.id;
    for (let batch = 0; batch < 4; batch++) {
      const metrics = Array.from({ length: 10_000 }, (_, i) => ({
        key: `layer/${String(batch * 10_000 + i).padStart(5, '0')}/grad_norm`,
        value: i,
        step: 1,
      }));
      const res = await call('POST', `${api}/runs/${runId}/metrics`, { metrics });
      expect(res.status).toBe(200);
    }
  }, 180_000);
  afterAll(() => live?.close());

  /** Health latencies measured while `work` runs: a blocked event loop shows in every one. */
  async function healthDuring(work: () => Promise<unknown>) {
    const latencies: number[] = [];
    let done = false;
    const running = work().finally(() => (done = true));
    do {
      const started = performance.now();
      const res = await fetch(`${live.server.url}${api}/health`);
      expect(res.status).toBe(200);
      await res.text();
      latencies.push(performance.now() - started);
    } while (!done);
    await running;
    return latencies;
  }

  it('is viewed and searched while the health check answers in under 100 ms', async () => {
    const requests: [string, string, unknown?][] = [
      ['GET', `${api}/runs/${runId}`],
      ['POST', `${api}/projects/wide/runs/search`, {}],
      ['GET', `${api}/runs/${runId}/metrics`],
      ['GET', `${mlflow}/runs/get?run_id=${runId}`],
      ['POST', `${mlflow}/runs/search`, { experiment_ids: [experimentId] }],
    ];
    // Once before measuring (compiling code paths and opening pool connections happen once), and
    // to see what each answers.
    const [view, search, page, mlflowRun, mlflowSearch] = (
      await Promise.all(requests.map(([method, path, body]) => call(method, path, body)))
    ).map((a) => a.json);
    expect(Object.keys(view.metrics)).toHaveLength(1000);
    expect(view.metricsTruncated).toBe(true);
    expect(search.runs[0].metricsTruncated).toBe(true);
    expect(page).toMatchObject({ truncated: true, nextPageToken: expect.any(String) });
    expect(page.metrics).toHaveLength(1000);
    expect(mlflowRun.run.data.metrics).toHaveLength(1000);
    expect(mlflowSearch.runs[0].data.metrics).toHaveLength(1000);

    const statuses: number[] = [];
    const latencies = await healthDuring(async () => {
      for (let i = 0; i < 3; i++)
        for (const [method, path, body] of requests) {
          // Read, not parsed: the client shares this process's event loop with the server.
          const res = await fetch(live.server.url + path, {
            method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          await res.arrayBuffer();
          statuses.push(res.status);
        }
    });
    expect(statuses).toEqual(Array(15).fill(200));
    expect(Math.max(...latencies)).toBeLessThan(100);
  });

  it('pages every key of GET /runs/{id}/metrics, flagging each cut page', async () => {
    const keys: string[] = [];
    let pageToken: string | null = null;
    let pages = 0;
    do {
      const res = await call(
        'GET',
        `${api}/runs/${runId}/metrics?limit=10000${pageToken ? `&pageToken=${pageToken}` : ''}`,
      );
      expect(res.status).toBe(200);
      keys.push(...res.json.metrics.map((m: { key: string }) => m.key));
      expect(res.json.truncated).toBe(res.json.nextPageToken !== null);
      pageToken = res.json.nextPageToken;
      pages++;
    } while (pageToken);
    expect([pages, keys.length, new Set(keys).size]).toEqual([4, 40_000, 40_000]);
    expect(keys).toEqual([...keys].sort());
  });
});

describe('bounded work through the API', () => {
  let database: TestDatabase;
  let t: Awaited<ReturnType<typeof testApp>>;
  let writer: string;
  let runId: string;
  let projectId: number;
  const asWriter = (method: string, path: string, body?: unknown) =>
    t.call(method, path, body, writer);

  beforeAll(async () => {
    database = await createTestDatabase();
    t = await testApp(database, { HELDOUT_MAX_METRIC_KEYS: '5' });
    projectId = (await t.call('POST', `${api}/projects`, { name: 'attack' })).json.id;
    writer = (await t.call('POST', `${api}/projects/attack/tokens`, { name: 'w', role: 'write' }))
      .json.token;
    runId = (await asWriter('POST', `${api}/projects/attack/runs`, { name: 'back\\slash' })).json
      .id;
  });
  afterAll(() => database.drop());

  describe('the cap on distinct metric keys (HELDOUT_MAX_METRIC_KEYS=5)', () => {
    const point = (key: string, step = 1, value = 1) => ({ key, step, value });
    const keysOf = async (id: string) =>
      (await t.call('GET', `${api}/runs/${id}/metrics`)).json.metrics.map(
        (m: { key: string }) => m.key,
      );

    it('refuses a batch that brings a run past the cap, storing none of it', async () => {
      const ok = await asWriter('POST', `${api}/runs/${runId}/metrics`, {
        metrics: ['a', 'b', 'c', 'd'].map((k) => point(k)),
      });
      expect(ok.status).toBe(200);
      const over = await asWriter('POST', `${api}/runs/${runId}/metrics`, {
        metrics: [point('a', 2, 42), point('e'), point('f')],
      });
      expect(over.status).toBe(400);
      expect(over.json.error.message).toMatch(
        /^metrics: a run may log at most 5 distinct metric keys \(HELDOUT_MAX_METRIC_KEYS\)/,
      );
      expect(await keysOf(runId)).toEqual(['a', 'b', 'c', 'd']);
      const a = await t.call('GET', `${api}/runs/${runId}/metric-history?key=a`);
      expect(a.json.steps).toEqual([1]);

      // Up to the cap, and points for keys it already has, always go in.
      expect(
        (await asWriter('POST', `${api}/runs/${runId}/metrics`, { metrics: [point('e')] })).status,
      ).toBe(200);
      const known = await asWriter('POST', `${api}/runs/${runId}/metrics`, {
        metrics: [point('a', 3), point('e', 3), point('a', 1, 7)],
      });
      expect(known.status).toBe(200);
      expect(
        (await t.call('GET', `${api}/runs/${runId}/metric-history?key=a`)).json.values,
      ).toEqual([7, 1]);
    });

    it('holds when batches race to add keys', async () => {
      const id = (await asWriter('POST', `${api}/projects/attack/runs`, {})).json.id;
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          asWriter('POST', `${api}/runs/${id}/metrics`, {
            metrics: [point(`k${i}a`), point(`k${i}b`)],
          }),
        ),
      );
      expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
      expect(answers.filter((a) => a.status === 400)).toHaveLength(8);
      expect(await keysOf(id)).toHaveLength(4);
    });

    it('refuses new keys over MLflow log-metric and log-batch in its error shape', async () => {
      const logMetric = await asWriter('POST', `${mlflow}/runs/log-metric`, {
        run_id: runId,
        key: 'z',
        value: 1,
        timestamp: 0,
        step: 0,
      });
      expect(logMetric.status).toBe(400);
      expect(logMetric.json.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(logMetric.json.message).toMatch(/HELDOUT_MAX_METRIC_KEYS/);
      const batch = await asWriter('POST', `${mlflow}/runs/log-batch`, {
        run_id: runId,
        metrics: [
          { key: 'a', value: 5, timestamp: 0, step: 9 },
          { key: 'y', value: 1, timestamp: 0, step: 0 },
        ],
      });
      expect([batch.status, batch.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
      const known = await asWriter('POST', `${mlflow}/runs/log-metric`, {
        run_id: runId,
        key: 'a',
        value: 2,
        timestamp: 0,
        step: 9,
      });
      expect(known.status).toBe(200);
    });
  });

  describe('LIKE patterns ending in a backslash', () => {
    it('match a literal backslash in native run search, not a 500', async () => {
      for (const filter of [
        { names: [{ op: 'like', value: 'back\\' }] },
        { names: [{ op: 'ilike', value: 'BACK\\\\%' }] },
        { params: [{ key: 'p', op: 'like', value: 'x\\' }] },
        { tags: [{ key: 't', op: 'ilike', value: '\\\\\\' }] },
      ]) {
        const res = await asWriter('POST', `${api}/projects/attack/runs/search`, filter);
        expect(res.status, JSON.stringify(filter)).toBe(200);
      }
      const hit = await asWriter('POST', `${api}/projects/attack/runs/search`, {
        names: [{ op: 'like', value: 'back\\\\%' }],
      });
      expect(hit.json.runs.map((r: { name: string }) => r.name)).toEqual(['back\\slash']);
      const prefix = await asWriter('POST', `${api}/projects/attack/runs/search`, {
        names: [{ op: 'like', value: 'back\\' }],
      });
      expect(prefix.json.runs).toEqual([]);
    });

    it('are taken literally in MLflow filters too', async () => {
      const search = (filter: string) =>
        asWriter('POST', `${mlflow}/runs/search`, { experiment_ids: [String(projectId)], filter });
      for (const filter of [
        "tags.t LIKE 'abc\\'",
        "params.p ILIKE 'abc\\'",
        "attributes.run_name LIKE 'back\\'",
      ])
        expect((await search(filter)).status, filter).toBe(200);
      const hit = await search("attributes.run_name LIKE 'back\\\\%'");
      expect(hit.json.runs.map((r: { info: { run_name: string } }) => r.info.run_name)).toEqual([
        'back\\slash',
      ]);
      const experiments = await asWriter('POST', `${mlflow}/experiments/search`, {
        filter: "name LIKE 'att\\'",
        max_results: 10,
      });
      expect(experiments.status).toBe(200);
    });
  });

  describe('forged page tokens', () => {
    const impossible = '2024-13-45 25:61:61+00';
    const real = '2024-01-02 03:04:05.123456+00';

    it('are a 400 naming pageToken on every keyset list', async () => {
      const lists = [
        [`${api}/runs/${runId}/jobs`, `jobs:${runId}`],
        [
          `${api}/projects/attack/evaluations`,
          JSON.stringify(['evaluations', projectId, null, null, null, null]),
        ],
      ] as const;
      for (const [path, view] of lists) {
        for (const cursor of [
          { t: impossible, id: uuid },
          { t: real, id: 'not-a-uuid' },
          { t: '99999-01-01 00:00:00+00', id: uuid },
        ]) {
          const res = await asWriter('GET', `${path}?pageToken=${b64({ v: view, c: cursor })}`);
          expect(res.status, `${path} ${JSON.stringify(cursor)}`).toBe(400);
          expect(res.json.error.message).toMatch(/^pageToken: /);
        }
        // The same view with a well-formed cursor still pages.
        const ok = await asWriter(
          'GET',
          `${path}?pageToken=${b64({ v: view, c: { t: real, id: uuid } })}`,
        );
        expect(ok.status).toBe(200);
      }
      const findings = await asWriter(
        'GET',
        `${api}/runs/${runId}/findings?pageToken=${b64({ v: JSON.stringify(['findings', { runId }, null, null]), c: { before: 1e300 } })}`,
      );
      expect([findings.status, findings.json.error.message]).toEqual([
        400,
        'pageToken: not a token this server issued for this view',
      ]);
    });

    it('are a 400 naming pageToken in run search and page_token in MLflow runs/search', async () => {
      const forged = b64({ v: 'startedAt::desc', c: { v: impossible, id: uuid } });
      const native = await asWriter('POST', `${api}/projects/attack/runs/search`, {
        orderBy: { field: 'startedAt' },
        pageToken: forged,
      });
      expect([native.status, native.json.error.message]).toEqual([
        400,
        'pageToken: not a token this server issued for this view',
      ]);
      const viaMlflow = await asWriter('POST', `${mlflow}/runs/search`, {
        experiment_ids: [String(projectId)],
        page_token: forged,
      });
      expect(viaMlflow.status).toBe(400);
      expect(viaMlflow.json).toEqual({
        error_code: 'INVALID_PARAMETER_VALUE',
        message: 'page_token: not a token this server issued for this view',
      });
      const badId = await asWriter('POST', `${mlflow}/runs/search`, {
        experiment_ids: [String(projectId)],
        page_token: b64({ v: 'startedAt::desc', c: { v: real, id: "1'; --" } }),
      });
      expect(badId.status).toBe(400);
      const good = await asWriter('POST', `${mlflow}/runs/search`, {
        experiment_ids: [String(projectId)],
        page_token: b64({ v: 'startedAt::desc', c: { v: real, id: uuid } }),
      });
      expect(good.status).toBe(200);
    });

    it('of the metrics list are a 400 too', async () => {
      const res = await asWriter('GET', `${api}/runs/${runId}/metrics?pageToken=${b64({ v: 1 })}`);
      expect([res.status, res.json.error.message]).toEqual([
        400,
        'pageToken: not a token this server issued for this view',
      ]);
    });
  });

  describe('deeply nested JSON', () => {
    const nested = (depth: number): unknown => {
      let policy: unknown = { kind: 'no_blocking_findings' };
      for (let i = 1; i < depth; i++) policy = { kind: 'all', checks: [policy] };
      return policy;
    };

    it('a gate policy 1000 deep is a 400 naming policy; 30 deep is still validated', async () => {
      const gates = `${api}/projects/attack/gates`;
      const deep = await asWriter('POST', gates, { name: 'deep', policy: nested(1000) });
      expect(deep.status).toBe(400);
      expect(deep.json.error.message).toBe('policy: must nest at most 64 levels deep');
      const fine = await asWriter('POST', gates, { name: 'fine', policy: nested(30) });
      expect(fine.status).toBeLessThan(500);
      expect(fine.json.error?.message ?? '').not.toMatch(/levels deep/);
    });

    it('holds for every JSON body, MLflow too', async () => {
      const config = await asWriter('POST', `${api}/projects/attack/runs`, {
        name: 'x',
        config: nested(1500),
      });
      expect([config.status, config.json.error.message]).toEqual([
        400,
        'config: must nest at most 64 levels deep',
      ]);
      const viaMlflow = await asWriter('POST', `${mlflow}/runs/log-inputs`, {
        run_id: runId,
        datasets: nested(1000),
      });
      expect(viaMlflow.status).toBe(400);
      expect(viaMlflow.json).toEqual({
        error_code: 'INVALID_PARAMETER_VALUE',
        message: "Invalid value for parameter 'datasets': must nest at most 64 levels deep",
      });
    });
  });
});

describe('a stalled database', () => {
  it('answers 503 after the statement timeout instead of hanging', async () => {
    const database = await createTestDatabase();
    const { openDatabase } = await import('../../server/db/client.ts');
    const timed = {
      ...database,
      ...openDatabase(database.url, { max: 2, statementTimeoutMs: 300 }),
    };
    try {
      const t = await testApp(timed);
      await t.call('POST', `${api}/projects`, { name: 'stall' });
      const runId = (await t.call('POST', `${api}/projects/stall/runs`, {})).json.id;
      // Another session holds the runs table, as a stuck migration or a long lock would.
      const holder = await database.sql.reserve();
      await holder`begin`;
      await holder`lock table runs in access exclusive mode`;
      try {
        const started = performance.now();
        const res = await t.call('GET', `${api}/runs/${runId}`);
        expect(performance.now() - started).toBeLessThan(5_000);
        expect(res.status).toBe(503);
        expect(res.json.error.message).toMatch(/statement timeout/);
        expect(res.headers.get('retry-after')).toBeTruthy();
        const viaMlflow = await t.call('GET', `${mlflow}/runs/get?run_id=${runId}`);
        expect([viaMlflow.status, viaMlflow.json.error_code]).toEqual([
          503,
          'TEMPORARILY_UNAVAILABLE',
        ]);
      } finally {
        await holder`rollback`;
        holder.release();
      }
      expect((await t.call('GET', `${api}/runs/${runId}`)).status).toBe(200);
    } finally {
      await timed.close();
      await database.drop();
    }
  });
});
