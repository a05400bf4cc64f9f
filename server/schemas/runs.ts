import { z } from '@hono/zod-openapi';
import { jsonObject, timestamp } from './common.ts';

// MLflow's own limits, so anything an MLflow client can log fits here too.
export const KEY_MAX = 250;
export const PARAM_VALUE_MAX = 6000;
export const TAG_VALUE_MAX = 8000;

/** Keys are printable: no control characters, no surrounding whitespace. */
export const key = z
  .string()
  .min(1, 'must not be empty')
  .max(KEY_MAX, `must be at most ${KEY_MAX} characters`)
  .regex(
    /^[^\p{Cc}\s](?:[^\p{Cc}]*[^\p{Cc}\s])?$/u,
    'must not contain control characters or start or end with whitespace',
  );

export const paramsRecord = z
  .record(key, z.string().max(PARAM_VALUE_MAX, `must be at most ${PARAM_VALUE_MAX} characters`))
  .refine((r) => Object.keys(r).length <= 1000, 'at most 1000 params per request');
export const tagsRecord = z
  .record(key, z.string().max(TAG_VALUE_MAX, `must be at most ${TAG_VALUE_MAX} characters`))
  .refine((r) => Object.keys(r).length <= 1000, 'at most 1000 tags per request');

export const runStatus = z.enum(['queued', 'running', 'finished', 'failed', 'cancelled']);
export type RunStatus = z.infer<typeof runStatus>;

export const createRunBody = z
  .object({
    name: z.string().min(1).max(250).optional().openapi({ description: 'generated when absent' }),
    plugin: z
      .string()
      .regex(
        /^(@[a-z0-9-]+\/)?[a-z0-9][a-z0-9._-]*(@[0-9A-Za-z.+-]+)?$/,
        'must be "name" or "name@version"',
      )
      .optional()
      .openapi({
        description:
          'trainer plugin; absent for runs logged from outside (notebooks, MLflow clients)',
      }),
    config: jsonObject.optional(),
    baseCheckpointId: z.uuid().optional(),
    parentRunId: z.uuid().optional(),
    datasets: z
      .array(
        z.object({
          datasetVersionId: z.number().int().positive(),
          role: z.enum(['train', 'validation', 'eval']),
        }),
      )
      .max(100)
      .optional(),
    params: paramsRecord.optional(),
    tags: tagsRecord.optional(),
    backend: z.string().max(100).optional(),
    device: z.string().max(200).optional(),
  })
  .openapi('CreateRun');

export const updateRunBody = z
  .object({
    status: runStatus.optional(),
    name: z.string().min(1).max(250).optional(),
    error: z.string().max(100_000).optional(),
    backend: z.string().max(100).optional(),
    device: z.string().max(200).optional(),
  })
  .openapi('UpdateRun');

/**
 * Latest metrics a run shows inline, in key order: a run may hold thousands of keys (up to
 * HELDOUT_MAX_METRIC_KEYS), and a search shows many runs. The rest are paged from
 * GET /runs/{runId}/metrics.
 */
export const RUN_VIEW_METRICS = 1000;

export const latestMetric = z.object({
  step: z.number().int(),
  value: z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]),
  wallTime: z.number().int().openapi({ description: 'epoch milliseconds' }),
});

export const run = z
  .object({
    id: z.uuid(),
    projectId: z.number().int(),
    name: z.string(),
    status: runStatus,
    plugin: z.string().nullable(),
    pluginVersion: z.string().nullable(),
    config: z.unknown().nullable(),
    baseCheckpointId: z.uuid().nullable(),
    parentRunId: z.uuid().nullable(),
    backend: z.string().nullable(),
    device: z.string().nullable(),
    error: z.string().nullable(),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    endedAt: timestamp.nullable(),
    params: z.record(z.string(), z.string()),
    tags: z.record(z.string(), z.string()),
    metrics: z.record(z.string(), latestMetric).openapi({
      description: `latest value of each metric, the first ${RUN_VIEW_METRICS} by key`,
    }),
    metricsTruncated: z.boolean().openapi({
      description: `the run has more than ${RUN_VIEW_METRICS} metrics: GET /runs/{runId}/metrics pages them all`,
    }),
    datasets: z.array(z.object({ datasetVersionId: z.number().int(), role: z.string() })),
  })
  .openapi('Run');

export type Run = z.infer<typeof run>;
export type CreateRun = z.infer<typeof createRunBody>;

const comparison = z.enum(['=', '!=', '<', '<=', '>', '>=']);
const keyedOrder: ReadonlySet<string> = new Set(['metric', 'param', 'tag']);

export const searchRunsBody = z
  .object({
    status: z.array(runStatus).max(5).optional(),
    nameContains: z.string().max(250).optional(),
    params: z
      .array(
        z.object({
          key,
          op: z.enum(['=', '!=', 'like', 'ilike']).default('='),
          value: z.string().max(PARAM_VALUE_MAX),
        }),
      )
      .max(20)
      .optional(),
    tags: z
      .array(
        z.object({
          key,
          op: z.enum(['=', '!=', 'exists', 'like', 'ilike']).default('='),
          value: z.string().max(TAG_VALUE_MAX).optional(),
        }),
      )
      .max(20)
      .optional(),
    metrics: z
      .array(z.object({ key, op: comparison, value: z.number() }))
      .max(20)
      .optional()
      .openapi({ description: 'filters on the latest value of each metric' }),
    names: z
      .array(z.object({ op: z.enum(['=', '!=', 'like', 'ilike']), value: z.string().max(250) }))
      .max(20)
      .optional()
      .openapi({ description: 'filters on the run name (like / ilike take SQL patterns)' }),
    ids: z.array(z.uuid()).max(1000).optional().openapi({ description: 'only these runs' }),
    excludeIds: z.array(z.uuid()).max(1000).optional(),
    times: z
      .array(
        z.object({
          field: z.enum(['startedAt', 'endedAt']),
          op: comparison,
          value: z.number().int().openapi({ description: 'epoch milliseconds' }),
        }),
      )
      .max(20)
      .optional()
      .openapi({ description: 'startedAt is the creation time for a run not started yet' }),
    orderBy: z
      .object({
        field: z
          .enum(['createdAt', 'startedAt', 'endedAt', 'name', 'metric', 'param', 'tag'])
          .default('createdAt'),
        key: key
          .optional()
          .openapi({ description: 'the metric, param or tag key, for those fields' }),
        direction: z.enum(['asc', 'desc']).default('desc'),
      })
      .refine((o) => keyedOrder.has(o.field) === (o.key !== undefined), {
        message: 'key is required for field metric, param or tag, and only then',
        path: ['key'],
      })
      .default({ field: 'createdAt', direction: 'desc' }),
    limit: z.number().int().min(1).max(1000).default(100),
    pageToken: z.string().max(2000).optional(),
  })
  .openapi('SearchRuns');

export type SearchRuns = z.infer<typeof searchRunsBody>;
