import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { createRouter, jsonResponse } from '../http/openapi.ts';

const DB_TIMEOUT_MS = 2_000;

const health = z
  .object({
    status: z.enum(['ok', 'degraded', 'unavailable']).openapi({
      description: 'degraded: the embedded PostgreSQL died and is being restarted',
    }),
    version: z.string(),
    database: z.object({
      status: z.enum(['ok', 'down', 'restarting']),
      latencyMs: z.number().optional(),
      error: z.string().optional(),
      embedded: z
        .object({
          state: z.enum(['running', 'restarting', 'exited', 'stopped']),
          restarts: z.number().int().openapi({ description: 'since this server started' }),
          lastExit: z
            .object({ at: z.string(), code: z.number().nullable(), signal: z.string().nullable() })
            .nullable(),
        })
        .optional()
        .openapi({ description: 'the embedded PostgreSQL, when DATABASE_URL is unset' }),
    }),
  })
  .openapi('Health');

/**
 * Liveness plus the database: a load balancer should stop sending traffic when Postgres is gone.
 * With an embedded PostgreSQL it also says whether that is being restarted, and how it last died;
 * nothing here names a path or a process (anyone may ask).
 */
export function healthRoutes({ database, version, postgres }: AppDeps) {
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['health'],
      responses: {
        200: jsonResponse(health, 'The server and its database are up'),
        503: jsonResponse(health, 'The database does not answer, or is being restarted'),
      },
    }),
    async (c) => {
      const started = performance.now();
      const embedded = () => {
        if (!postgres) return undefined;
        const { state, restarts, lastExit } = postgres.status();
        return { state, restarts, lastExit };
      };
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
          {
            status: 'ok' as const,
            version,
            database: { status: 'ok' as const, latencyMs, embedded: embedded() },
          },
          200,
        );
      } catch (err) {
        c.header('Retry-After', '2');
        const now = embedded();
        const restarting = now?.state === 'restarting';
        const database = {
          status: restarting ? ('restarting' as const) : ('down' as const),
          error: (err as Error).message,
          embedded: now,
        };
        const status = restarting ? ('degraded' as const) : ('unavailable' as const);
        return c.json({ status, version, database }, 503);
      }
    },
  );
}
