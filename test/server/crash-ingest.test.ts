import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { POINTS_PER_BATCH, pointsPerKey, streamBatches, until } from '../helpers/ingest-stream.ts';
import { runCli, type CliProcess } from '../helpers/processes.ts';

const RUNNING = /heldout is running at (http:\/\/\S+)/;
const TOKEN = 'hld_crash-ingest-test-admin-token';

let database: TestDatabase;
let dataDir: string;
const servers: CliProcess[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-crash-'));
});
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  // A failed test can leave its clients sending: stopped here, before their server goes away.
  await Promise.allSettled(stops.map((stop) => stop()));
  for (const s of servers) s.child.kill('SIGKILL');
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function serve(): Promise<{ cli: CliProcess; url: string }> {
  const cli = runCli(['serve'], {
    DATABASE_URL: database.url,
    PORT: '0',
    HELDOUT_ADMIN_TOKEN: TOKEN,
    HELDOUT_DATA_DIR: dataDir,
    HELDOUT_WORKER: '0',
    HELDOUT_LOG_LEVEL: 'warn',
  });
  servers.push(cli);
  const [, url] = await cli.waitForStdout(RUNNING, 60_000);
  return { cli, url: url! };
}

async function call(url: string, method: string, p: string, body?: unknown) {
  const res = await fetch(`${url}/api/v1${p}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface Acked {
  runId: string;
  params: Record<string, string>;
  tags: Record<string, string>;
}

/**
 * Creates runs with params and tags, then adds a param and a tag to each, one request after the
 * other, and records what each 2xx acknowledged.
 */
function runWriter(url: string) {
  const acked = new Map<string, Acked>();
  let stopped = false;
  const send = (method: string, p: string, body: unknown) =>
    call(url, method, p, body).catch(() => ({ status: 0, json: {} as Record<string, unknown> }));
  const done = (async () => {
    for (let n = 0; !stopped; n++) {
      const params = { lr: `0.${n}`, seed: String(n) };
      const tags = { writer: 'crash', n: String(n) };
      const created = await send('POST', '/projects/crash/runs', { params, tags });
      if (created.status !== 201) continue;
      const runId = created.json.id as string;
      acked.set(runId, { runId, params: { ...params }, tags: { ...tags } });
      if ((await send('POST', `/runs/${runId}/params`, { params: { late: 'yes' } })).status === 200)
        acked.get(runId)!.params.late = 'yes';
      if ((await send('PUT', `/runs/${runId}/tags`, { tags: { stage: 'tagged' } })).status === 200)
        acked.get(runId)!.tags.stage = 'tagged';
    }
  })();
  return {
    acked,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

describe('kill -9 of the server during batch metric ingest', () => {
  it('keeps every acknowledged batch whole, leaves no batch partly stored, and keeps acknowledged runs, params and tags', async () => {
    const first = await serve();
    expect((await call(first.url, 'POST', '/projects', { name: 'crash' })).status).toBe(201);
    const run = await call(first.url, 'POST', '/projects/crash/runs', {});
    const runId = run.json.id as string;

    const stream = streamBatches({ url: first.url, token: TOKEN, runId, clients: 4 });
    const writer = runWriter(first.url);
    stops.push(stream.stop, writer.stop);
    // Killed once batches have been acknowledged and while others are still being written.
    await until(
      'acknowledged batches with more in flight',
      () => stream.acknowledged().length >= 12 && stream.inFlight() >= 3 && writer.acked.size >= 3,
      30_000,
    );
    // ...and at the moment Postgres is executing a batch's insert, so one transaction is cut.
    const ingesting = async () => {
      const rows = await database.sql`
        select 1 from pg_stat_activity
        where datname = ${database.name} and state = 'active' and query like '%insert into metric_points%'`;
      return rows.length > 0;
    };
    const deadline = Date.now() + 10_000;
    let polls = 1;
    while (!(await ingesting()) && Date.now() < deadline) polls++;
    const inFlightAtKill = stream.inFlight();
    first.cli.child.kill('SIGKILL');
    expect(await first.cli.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all([stream.stop(), writer.stop()]);

    const acked = stream.acknowledged();
    const unanswered = stream.results.filter((r) => r.status === 0);
    expect(inFlightAtKill).toBeGreaterThanOrEqual(3);
    expect(Date.now()).toBeLessThan(deadline);
    expect(unanswered.length).toBeGreaterThanOrEqual(inFlightAtKill);
    expect(stream.results.filter((r) => r.status !== 0 && r.status !== 200)).toEqual([]);
    expect(writer.acked.size).toBeGreaterThan(0);

    const second = await serve();
    const stored = await pointsPerKey(database.sql, runId);
    for (const batch of acked) expect(stored.get(batch.key), batch.key).toBe(POINTS_PER_BATCH);
    // A batch cut off by the kill is absent or whole: ingest is one statement, one transaction.
    for (const batch of unanswered)
      expect([0, POINTS_PER_BATCH], batch.key).toContain(stored.get(batch.key) ?? 0);
    for (const [key, points] of stored) expect(points, key).toBe(POINTS_PER_BATCH);

    for (const want of writer.acked.values()) {
      const got = await call(second.url, 'GET', `/runs/${want.runId}`);
      expect(got.status).toBe(200);
      expect(got.json.params).toMatchObject(want.params);
      expect(got.json.tags).toMatchObject(want.tags);
    }

    // The restarted server takes batches again, and every batch is whole.
    const again = await call(second.url, 'POST', `/runs/${runId}/metrics`, {
      metrics: [{ key: 'after-restart', step: 0, value: 1 }],
    });
    expect(again).toEqual({ status: 200, json: { stored: 1 } });
    console.info(
      `crash-ingest: ${acked.length} batches acknowledged, ${inFlightAtKill} in flight at the kill, ` +
        `${unanswered.filter((b) => stored.has(b.key)).length} of ${unanswered.length} unanswered ` +
        `batches committed whole, ${writer.acked.size} runs acknowledged, ` +
        `an insert caught running after ${polls} polls`,
    );

    second.cli.child.kill('SIGTERM');
    expect((await second.cli.exited).code).toBe(0);
  }, 90_000);
});
