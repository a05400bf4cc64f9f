import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../server/db/embedded-postgres.ts';
import { startServer, type RunningServer } from '../../server/serve.ts';
import {
  POINTS_PER_BATCH,
  pointsPerKey,
  streamBatches,
  until,
  type BatchResult,
  type IngestStream,
} from '../helpers/ingest-stream.ts';
import { memoryLogger } from '../helpers/logger.ts';

const TOKEN = 'hld_db-restart-test-admin-token';
// Every answer, even with Postgres gone, comes within this: a client is told to retry, never hung.
const ANSWER_BOUND_MS = 5_000;
const POOL_SIZE = 4;

// World-traversable, so that as root the "postgres" user can reach its cluster under it.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-dbrestart-'));
fs.chmodSync(dir, 0o755);
let pg: EmbeddedPostgres;
let server: RunningServer;
const log = memoryLogger('warn');

const startPostgres = (port?: number) =>
  startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port, settings: { fsync: 'off' } });

beforeAll(async () => {
  pg = await startPostgres();
  const admin = postgres(pg.url(), { max: 1, onnotice: () => {} });
  await admin.unsafe('create database heldout');
  await admin.end();
  const config = loadConfig({
    DATABASE_URL: pg.url('heldout'),
    PORT: '0',
    HELDOUT_ADMIN_TOKEN: TOKEN,
    HELDOUT_DATA_DIR: path.join(dir, 'data'),
    HELDOUT_WORKER: '0',
    HELDOUT_DB_POOL_SIZE: String(POOL_SIZE),
  });
  server = await startServer(config, log.logger);
  expect((await call('POST', '/projects', { name: 'restart' })).status).toBe(201);
});
afterAll(async () => {
  // Bounded, so that a server stuck on open requests never leaves its Postgres running behind.
  await Promise.race([server?.close(), new Promise((r) => setTimeout(r, 15_000))]);
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A client call that, like any client should, tries again on a 503 (sooner than Retry-After). */
async function call(method: string, p: string, body?: unknown) {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${server.url}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 503 || attempt === 10) return { status: res.status, json };
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function health() {
  const res = await fetch(`${server.url}/api/v1/health`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { database: { status: string } };
  return { status: res.status, database: body.database.status };
}

const streams: IngestStream[] = [];
afterEach(() => Promise.all(streams.splice(0).map((s) => s.stop())));

async function startStream() {
  const created = await call('POST', '/projects/restart/runs', {});
  expect(created.status).toBe(201);
  const runId = created.json.id as string;
  const stream = streamBatches({ url: server.url, token: TOKEN, runId, clients: 3 });
  // Stopped even when the test fails: a stream left running keeps the server from closing.
  streams.push(stream);
  await until('batches acknowledged', () => stream.acknowledged().length >= 10, 30_000);
  return { runId, stream };
}

/** Waits for batches sent after `since` to be acknowledged again, then for health to say ok. */
async function recovered(stream: IngestStream, since: number) {
  await until(
    'a batch acknowledged after Postgres came back',
    () => stream.acknowledged().some((r) => r.sentAt >= since),
    20_000,
  );
  const ingestMs = Date.now() - since;
  let ok = await health();
  while (ok.status !== 200 && Date.now() - since < 20_000) ok = await health();
  const healthMs = Date.now() - since;
  const acked = stream.acknowledged().length;
  await until('more batches', () => stream.acknowledged().length >= acked + 10, 20_000);
  await stream.stop();
  return { ingestMs, healthMs, health: ok };
}

/** Every answer was a 2xx or a quick 503 with Retry-After, and every 2xx batch is whole. */
async function expectNoLossNoHang(runId: string, stream: IngestStream) {
  const odd = (r: BatchResult) => r.status !== 200 && !(r.status === 503 && r.retryAfter === '2');
  expect(stream.results.filter(odd)).toEqual([]);
  const slowest = Math.max(...stream.results.map((r) => r.ms));
  expect(slowest).toBeLessThan(ANSWER_BOUND_MS);
  const sql = postgres(pg.url('heldout'), { max: 1 });
  const stored = await pointsPerKey(sql, runId);
  await sql.end();
  for (const batch of stream.acknowledged())
    expect(stored.get(batch.key), batch.key).toBe(POINTS_PER_BATCH);
  for (const [key, points] of stored) expect(points, key).toBe(POINTS_PER_BATCH);
  expect(log.lines.filter((l) => l.msg === 'unhandled error')).toEqual([]);
  // Why the 503s came (the driver's cause ends a DrizzleQueryError's message), for the figures.
  const why = (l: Record<string, unknown>) => {
    const err = l.err as { code?: string; message?: string } | undefined;
    return (
      err?.code ??
      err?.message
        ?.split(': ')
        .at(-1)
        ?.replace(/ [\d.]+:\d+$/, '') ??
      l.msg
    );
  };
  const codes = new Set(log.lines.splice(0).map(why));
  return { slowest, codes: [...codes].join(', ') };
}

describe('PostgreSQL going away while metrics stream in', () => {
  it('stopped and started again: 503 with Retry-After at once while down, reconnects by itself, no acknowledged batch lost', async () => {
    const { runId, stream } = await startStream();

    const stoppedAt = Date.now();
    await pg.stop();
    const downAt = Date.now();
    const during = () => stream.results.filter((r) => r.sentAt >= downAt);
    await until('answers while Postgres is down', () => during().length >= 20, 20_000);
    const downHealth = await health();
    const answersDown = during().slice();

    pg = await startPostgres(pg.port);
    const upAt = Date.now();
    const back = await recovered(stream, upAt);

    expect(answersDown.filter((r) => r.status !== 503 || r.retryAfter !== '2')).toEqual([]);
    expect(downHealth).toEqual({ status: 503, database: 'down' });
    expect(back.health).toEqual({ status: 200, database: 'ok' });
    // A postgres.js connection that was mid-query when Postgres stopped fails its first query
    // after the restart with that old 57P01 (see server/db/client.ts): at most one per pooled
    // connection, each a 503 the client retries.
    const failedAfter = stream.results.filter((r) => r.sentAt >= upAt && r.status !== 200);
    expect(failedAfter.length).toBeLessThanOrEqual(POOL_SIZE);
    const { slowest, codes } = await expectNoLossNoHang(runId, stream);

    const downMs = answersDown.map((r) => r.ms).sort((a, b) => a - b);
    console.info(
      `db-restart (stop/start): stop took ${downAt - stoppedAt} ms; ${answersDown.length} ` +
        `answers while down, median ${downMs[downMs.length >> 1]} ms, max ${downMs.at(-1)} ms; ` +
        `ingest back ${back.ingestMs} ms and health ok ${back.healthMs} ms after Postgres was up; ` +
        `${failedAfter.length} batches refused after it was up; slowest answer ${slowest} ms; ` +
        `${stream.acknowledged().length} batches acknowledged; errors seen: ${codes}`,
    );
  }, 60_000);

  it('a backend killed with SIGKILL (Postgres restarts every session and recovers): 503s, then ingest resumes, no acknowledged batch lost', async () => {
    const { runId, stream } = await startStream();
    const sql = postgres(pg.url('heldout'), { max: 1 });
    const [victim] = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity
      where datname = 'heldout' and application_name = 'heldout' and pid <> pg_backend_pid()
      order by state = 'active' desc limit 1`;
    await sql.end({ timeout: 1 });
    const killedAt = Date.now();
    process.kill(victim!.pid, 'SIGKILL');
    const back = await recovered(stream, killedAt);

    expect(back.health).toEqual({ status: 200, database: 'ok' });
    const refused = stream.results.filter((r) => r.status !== 200);
    const { slowest, codes } = await expectNoLossNoHang(runId, stream);
    console.info(
      `db-restart (backend killed): ingest back ${back.ingestMs} ms and health ok ` +
        `${back.healthMs} ms after the kill; ${refused.length} batches refused; ` +
        `slowest answer ${slowest} ms; ${stream.acknowledged().length} batches acknowledged; ` +
        `errors seen: ${codes}`,
    );
  }, 60_000);
});
