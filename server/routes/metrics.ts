import { createRoute, z } from '@hono/zod-openapi';
import type { TypedResponse } from 'hono';
import type { AppDeps } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { runParam } from '../schemas/common.ts';
import {
  historyQuery,
  logMetricsBody,
  metricBuckets,
  metricHistory,
  metricList,
  metricListQuery,
  type MetricHistory,
} from '../schemas/metrics.ts';
import {
  listMetrics,
  logMetrics,
  metricBuckets as bucketsOf,
  metricHistoryJson as historyOf,
} from '../services/metrics.ts';
import { authorizeRun } from './access.ts';

const tags = ['metrics'];

/** Batch metric ingest and metric reads (full, paged, or downsampled in SQL). */
export function metricRoutes(deps: AppDeps) {
  const { sql } = deps.database;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/runs/{runId}/metrics',
        tags,
        security: bearerSecurity,
        request: { params: runParam, body: jsonBody(logMetricsBody) },
        responses: {
          200: jsonResponse(
            z.object({ stored: z.number().int() }),
            'All points stored (all-or-nothing)',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'write');
        const points = c.req.valid('json').metrics;
        const limits = { maxKeys: deps.config.HELDOUT_MAX_METRIC_KEYS };
        return c.json({ stored: await logMetrics(sql, runId, points, limits) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/runs/{runId}/metrics',
        tags,
        security: bearerSecurity,
        request: { params: runParam, query: metricListQuery },
        responses: {
          200: jsonResponse(metricList, "One page of the run's metrics, by key"),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'read');
        return c.json(await listMetrics(sql, runId, c.req.valid('query')), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/runs/{runId}/metric-history',
        tags,
        security: bearerSecurity,
        request: { params: runParam, query: historyQuery },
        responses: {
          200: jsonResponse(
            z.union([metricHistory, metricBuckets]),
            'Points (paged) or, with buckets=N, a downsampled curve',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'read');
        const q = c.req.valid('query');
        if (q.buckets !== undefined)
          return c.json(await bucketsOf(sql, runId, { ...q, buckets: q.buckets }), 200);
        // Already JSON text (see metricHistoryJson): sent as is, typed as the declared schema.
        const body = await historyOf(sql, runId, q);
        return c.body(body, 200, {
          'content-type': 'application/json',
        }) as unknown as TypedResponse<MetricHistory, 200, 'json'>;
      },
    );
}
