import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { restartDelayMs } from '../../server/db/postgres-supervisor.ts';
import { startServer, type RunningServer } from '../../server/serve.ts';
import {
  POINTS_PER_BATCH,
  pointsPerKey,
  streamBatches,
  until,
  type IngestStream,
} from '../helpers/ingest-stream.ts';
import { memoryLogger } from '../helpers/logger.ts';

const TOKEN = 'hld_postgres-supervision-admin-token';

// World-traversable, so that as root the "postgres" user can reach its cluster under it.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-supervise-'));
fs.chmodSync(dir, 0o755);
let server: RunningServer;
const log = memoryLogger('info');

beforeAll(async () => {
  // No DATABASE_URL: `heldout serve` runs its own PostgreSQL, as on a first start.
  const config = loadConfig({
    PORT: '0',
    HELDOUT_ADMIN_TOKEN: TOKEN,
    HELDOUT_DATA_DIR: path.join(dir, 'data'),
    HELDOUT_WORKER: '0',
    HELDOUT_DB_POOL_SIZE: '4',
  });
  server = await startServer(config, log.logger);
}, 120_000);
afterAll(async () => {
  await Promise.race([server?.close(), new Promise((r) => setTimeout(r, 15_000))]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, p: string, body?: unknown) {
  const res = await fetch(`${server.url}/api/v1${p}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface Health {
  status: string;
  database: {
    status: string;
    embedded?: {
      state: string;
      restarts: number;
      lastExit: { signal: string | null } | null;
    };
  };
}
async function health() {
  const res = await fetch(`${server.url}/api/v1/health`, { signal: AbortSignal.timeout(10_000) });
  return { code: res.status, body: (await res.json()) as Health };
}

describe('the embedded PostgreSQL, supervised', () => {
  it('backs off 0.5 s, 1 s, 2 s … up to 30 s between restart attempts', () => {
    expect([1, 2, 3, 4, 7, 8, 100].map((n) => restartDelayMs(n))).toEqual([
      500, 1000, 2000, 4000, 30_000, 30_000, 30_000,
    ]);
  });

  it('killed with SIGKILL comes back within seconds, health says so meanwhile, and no acknowledged write is lost', async () => {
    expect((await call('POST', '/projects', { name: 'supervised' })).status).toBe(201);
    const created = await call('POST', '/projects/supervised/runs', {});
    const runId = created.json.id as string;
    const before = await health();
    expect(before.code).toBe(200);
    expect(before.body.database.embedded).toEqual({
      state: 'running',
      restarts: 0,
      lastExit: null,
    });

    let stream: IngestStream | undefined = streamBatches({
      url: server.url,
      token: TOKEN,
      runId,
      clients: 3,
    });
    try {
      await until('batches acknowledged', () => stream!.acknowledged().length >= 10, 30_000);
      const pid = server.postgres!.status().pid!;
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');

      // What health says while it is away: polled until it is back. (Its backends outlive it
      // for a moment and may still answer, until the supervisor ends them.)
      const seen: Health[] = [];
      const back = (h: Awaited<ReturnType<typeof health>>) =>
        h.code === 200 && h.body.database.embedded?.restarts === 1;
      let now = await health();
      while (!back(now) && Date.now() - killedAt < 30_000) {
        if (now.code !== 200) seen.push(now.body);
        now = await health();
      }
      const backMs = Date.now() - killedAt;
      expect(now.code).toBe(200);
      expect(backMs).toBeLessThan(15_000);
      expect(now.body.database.embedded).toMatchObject({
        state: 'running',
        restarts: 1,
        lastExit: { signal: 'SIGKILL' },
      });
      expect(server.postgres!.status().pid).not.toBe(pid);
      // Every answer in between was a 503 that says it is restarting (or, for a moment before
      // the supervisor heard of the death, that the database is down).
      expect(seen.length).toBeGreaterThan(0);
      for (const h of seen) expect(['restarting', 'down']).toContain(h.database.status);
      expect(seen).toContainEqual(
        expect.objectContaining({
          status: 'degraded',
          database: expect.objectContaining({ status: 'restarting' }),
        }),
      );

      // Writes are taken again, and every one acknowledged before, during or after is whole.
      const acked = stream.acknowledged().length;
      await until(
        'batches after the restart',
        () => stream!.acknowledged().length >= acked + 10,
        30_000,
      );
      await stream.stop();
      const refused = stream.results.filter((r) => r.status !== 200);
      expect(refused.filter((r) => r.status !== 503 && r.status !== 0)).toEqual([]);
      const sql = postgres(server.postgres!.url('heldout'), { max: 1 });
      const stored = await pointsPerKey(sql, runId);
      await sql.end();
      for (const batch of stream.acknowledged())
        expect(stored.get(batch.key), batch.key).toBe(POINTS_PER_BATCH);
      for (const [key, points] of stored) expect(points, key).toBe(POINTS_PER_BATCH);
      stream = undefined;

      const messages = log.lines.map((l) => l.msg);
      expect(messages).toContain('embedded PostgreSQL died; restarting it');
      expect(messages).toContain('embedded PostgreSQL restarted');
      expect(log.lines.filter((l) => l.msg === 'unhandled error')).toEqual([]);
      console.info(
        `postgres supervision: back ${backMs} ms after SIGKILL; ${seen.length} health answers ` +
          `while away; ${refused.length} batches refused; ` +
          `${stored.size} batches stored, every acknowledged one whole`,
      );
    } finally {
      await stream?.stop();
    }
  }, 90_000);
});
