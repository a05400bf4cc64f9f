import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { createRouter, jsonResponse } from '../http/openapi.ts';

const DB_TIMEOUT_MS = 2_000;

const health = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    version: z.string(),
    database: z.object({
      status: z.enum(['ok', 'down']),
      latencyMs: z.number().optional(),
      error: z.string().optional(),
    }),
  })
  .openapi('Health');

/** Liveness plus the database: a load balancer should stop sending traffic when Postgres is gone. */
export function healthRoutes({ database, version }: AppDeps) {
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['health'],
      responses: {
        200: jsonResponse(health, 'The server and its database are up'),
        503: jsonResponse(health, 'The database does not answer'),
      },
    }),
    async (c) => {
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
        return c.json(
          { status: 'ok' as const, version, database: { status: 'ok' as const, latencyMs } },
          200,
        );
      } catch (err) {
        c.header('Retry-After', '2');
        const database = { status: 'down' as const, error: (err as Error).message };
        return c.json({ status: 'unavailable' as const, version, database }, 503);
      }
    },
  );
}
