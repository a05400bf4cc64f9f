import { z } from '@hono/zod-openapi';
import { modelParams } from './registry.ts';

export const versionParams = modelParams.extend({
  version: z.coerce
    .number('must be a version number')
    .int('must be a version number')
    .min(1, 'must be a version number')
    .max(1_000_000_000)
    .openapi({ param: { name: 'version', in: 'path' }, example: 2 }),
});

export const servingQuery = z.object({
  last: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .openapi({ description: 'how many of the latest requests the figures cover (at most 100000)' }),
});

const percentiles = (keys: readonly string[]) =>
  z.object(Object.fromEntries(keys.map((k) => [k, z.number()]))).nullable();

export const servingStats = z
  .object({
    model: z.string(),
    version: z.number().int(),
    checkpointId: z.string(),
    requests: z.number().int().openapi({ description: 'requests in the window' }),
    outcomes: z
      .record(z.string(), z.number().int())
      .openapi({ description: 'by how they ended: stop, length, cancelled, refused, error' }),
    since: z.string().nullable(),
    until: z.string().nullable(),
    latencyMs: percentiles(['p50', 'p95', 'p99']).openapi({
      description: 'whole generation, from the moment the request had a slot',
    }),
    firstTokenMs: percentiles(['p50', 'p95']),
    queueMs: percentiles(['p50', 'p95']).openapi({ description: 'waiting for a slot' }),
    tokensPerSecond: z.number().nullable().openapi({
      description:
        "a request's own generation speed (completion tokens over generation time, pooled); requests generating together share the CPU",
    }),
    promptTokens: z.number().int(),
    completionTokens: z.number().int(),
  })
  .openapi('ServingStats');
