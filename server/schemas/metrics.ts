import { z } from '@hono/zod-openapi';
import { limit, pageToken } from './common.ts';
import { key } from './runs.ts';

export const MAX_BATCH_POINTS = 10_000;
export const MAX_HISTORY_PAGE = 100_000;

export const wireValue = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]).openapi({
  description: 'a number, or "NaN", "Infinity", "-Infinity" (JSON has no literal for them)',
});

export const metricPoint = z.object({
  key,
  value: wireValue,
  step: z.number().int('must be an integer').default(0),
  timestamp: z
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ description: 'epoch milliseconds; now when absent' }),
});

export const logMetricsBody = z
  .object({
    metrics: z
      .array(metricPoint)
      .min(1)
      .max(MAX_BATCH_POINTS, `at most ${MAX_BATCH_POINTS} points per request`),
  })
  .openapi('LogMetrics');

export const metricSummary = z
  .object({
    key: z.string(),
    lastStep: z.number().int(),
    lastValue: wireValue,
    lastWallTime: z.number().int(),
    min: wireValue,
    max: wireValue,
  })
  .openapi('MetricSummary');

export const MAX_METRICS_PAGE = 10_000;

export const metricListQuery = z.object({
  limit: limit(MAX_METRICS_PAGE, 1000),
  pageToken,
});

export const metricList = z
  .object({
    metrics: z.array(metricSummary),
    truncated: z
      .boolean()
      .openapi({ description: 'more keys follow: pass nextPageToken for them' }),
    nextPageToken: z.string().nullable(),
  })
  .openapi('MetricList');

export const historyQuery = z.object({
  key: key.openapi({ param: { name: 'key', in: 'query' } }),
  minStep: z.coerce.number().int().optional(),
  maxStep: z.coerce.number().int().optional(),
  afterStep: z.coerce
    .number()
    .int()
    .optional()
    .openapi({ description: 'keyset: the nextAfterStep of the previous page' }),
  limit: z.coerce.number().int().min(1).max(MAX_HISTORY_PAGE).default(10_000),
  buckets: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .openapi({ description: 'downsample into this many step buckets (min / max / last of each)' }),
});

export const metricHistory = z
  .object({
    key: z.string(),
    steps: z.array(z.number().int()),
    values: z.array(wireValue),
    wallTimes: z.array(z.number().int()),
    nextAfterStep: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'pass as afterStep for the next page; null at the end' }),
  })
  .openapi('MetricHistory');

export const metricBuckets = z
  .object({
    key: z.string(),
    buckets: z.array(
      z.object({
        stepMin: z.number().int(),
        stepMax: z.number().int(),
        count: z.number().int(),
        min: wireValue.nullable(),
        max: wireValue.nullable(),
        last: wireValue,
        wallTime: z.number().int().openapi({ description: "the last point's, epoch milliseconds" }),
      }),
    ),
  })
  .openapi('MetricBuckets');

export type LogMetrics = z.infer<typeof logMetricsBody>;
export type MetricHistory = z.infer<typeof metricHistory>;
export type MetricBuckets = z.infer<typeof metricBuckets>;
export type MetricSummary = z.infer<typeof metricSummary>;
export type MetricList = z.infer<typeof metricList>;
