import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createPluginHost } from '../../server/plugins/host.ts';
import { createJobQueue } from '../../server/jobs/queue.ts';
import { openDatabase, type Database } from '../../server/db/client.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { memoryLogger } from '../helpers/logger.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

/** The app on `db` with a logger whose lines the test can read. */
function appOn(db: Database) {
  const { logger, lines } = memoryLogger();
  const app = createApp({
    database: db,
    logger,
    version: 'test',
    config: loadConfig({}),
    plugins: createPluginHost(),
    queue: createJobQueue(db.sql),
  });
  return { app, lines };
}

describe('GET /api/v1/health', () => {
  it('reports the database as ok', async () => {
    const { app } = appOn(database);
    const res = await app.request('/api/v1/health');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { database: { latencyMs: number } };
    expect(body).toMatchObject({ status: 'ok', version: 'test', database: { status: 'ok' } });
    expect(body.database.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('answers 503 with Retry-After when the database is unreachable', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const unreachable = openDatabase('postgres://nobody@127.0.0.1:1/none', { max: 1 });
    const { app } = appOn(unreachable);
    const res = await app.request('/api/v1/health');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toMatchObject({ status: 'unavailable', database: { status: 'down' } });
    await unreachable.close();
  });
});

describe('errors and request ids', () => {
  it('answers an unknown route with the error shape and a request id', async () => {
    const { app, lines } = appOn(database);
    const res = await app.request('/api/v1/no-such-thing', { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: 'not_found', message: 'no route for POST /api/v1/no-such-thing' },
    });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines).toContainEqual(
      expect.objectContaining({ reqId: id, method: 'POST', status: 404, msg: 'request' }),
    );
  });

  it('keeps a request id the client sent, and never logs the Authorization header', async () => {
    const { app, lines } = appOn(database);
    const res = await app.request('/api/v1/health', {
      headers: { 'x-request-id': 'client-chosen-id', authorization: 'Bearer hld_secret' },
    });
    expect(res.headers.get('x-request-id')).toBe('client-chosen-id');
    expect(JSON.stringify(lines)).not.toContain('hld_secret');
    expect(lines).toContainEqual(expect.objectContaining({ reqId: 'client-chosen-id' }));
  });
});
