import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';

const DB_TIMEOUT_MS = 2_000;

/** Liveness plus the database: a load balancer should stop sending traffic when Postgres is gone. */
export function healthRoutes({ database, version }: AppDeps) {
  return new Hono<AppEnv>().get('/health', async (c) => {
    const started = performance.now();
    try {
      await Promise.race([
        database.sql`select 1`,
        new Promise((_, reject) =>
          setTimeout(
            () => reject(new Error(`no answer in ${DB_TIMEOUT_MS} ms`)),
            DB_TIMEOUT_MS,
          ).unref(),
        ),
      ]);
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      return c.json({ status: 'ok', version, database: { status: 'ok', latencyMs } });
    } catch (err) {
      c.header('Retry-After', '2');
      return c.json(
        {
          status: 'unavailable',
          version,
          database: { status: 'down', error: (err as Error).message },
        },
        503,
      );
    }
  });
}
