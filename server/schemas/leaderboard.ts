import { z } from '@hono/zod-openapi';
import { limit, pageToken } from './common.ts';

export const leaderboardQuery = z.object({
  sort: z
    .string()
    .regex(/^(average|suite:[A-Za-z0-9._-]{1,100})$/, 'must be "average" or "suite:<name>"')
    .default('average')
    .openapi({ description: 'highest first: the average of normalised scores, or one suite' }),
  method: z
    .string()
    .regex(
      /^[a-z0-9._-]{1,100}(:[a-z0-9._-]{1,100})?$/,
      'must be a method such as lora or peft:ia3',
    )
    .optional()
    .openapi({ description: 'rows of this method; "peft" also matches "peft:ia3"' }),
  search: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: 'model (or checkpoint) name contains this, case-insensitive' }),
  base: z.string().min(1).max(200).optional().openapi({
    description: "rows whose base model's id is this, or whose base label contains it",
  }),
  dataset: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}(@\d+)?$/, 'must be a dataset name, optionally name@version')
    .optional()
    .openapi({ description: 'rows trained on this dataset (any version, or name@version)' }),
  gate: z
    .enum(['pass', 'fail', 'no_data', 'none'])
    .optional()
    .openapi({ description: "the latest verdict's outcome; none: never judged" }),
  include: z
    .enum(['checkpoints'])
    .optional()
    .openapi({ description: 'checkpoints: also evaluated checkpoints not in the registry' }),
  limit: limit(1000, 100),
  pageToken,
});
export type LeaderboardQuery = z.infer<typeof leaderboardQuery>;

const interval = z.object({ value: z.number(), low: z.number(), high: z.number() });

const score = z.object({
  value: z.number(),
  low: z.number(),
  high: z.number(),
  n: z.number().int(),
  delta: z.number().nullable().openapi({ description: "minus the base model's value" }),
  normalised: z.number().openapi({ description: 'min-max over the board on this suite, 0..1' }),
});

export const leaderboardRow = z
  .object({
    rank: z.number().int().nullable().openapi({ description: 'by the sort; null without a score' }),
    rankUpperBound: z.number().int().nullable().openapi({
      description:
        "1 + rows whose sort interval's low exceeds this row's high: the worst plausible",
    }),
    model: z.string().nullable(),
    version: z.number().int().nullable(),
    checkpointId: z.uuid(),
    checkpointName: z.string().nullable(),
    runId: z.uuid().nullable(),
    aliases: z.array(z.string()),
    method: z.string().openapi({ example: 'peft:ia3' }),
    base: z.object({ checkpointId: z.uuid(), label: z.string() }).nullable(),
    trainableParams: z.number().int().nullable(),
    totalParams: z.number().int().nullable(),
    datasets: z.array(z.string()).openapi({ example: ['support-sft@3'] }),
    scores: z.record(z.string(), score).openapi({ description: 'by suite name; absent: no score' }),
    average: interval.nullable().openapi({
      description: 'mean normalised value (and low/high) over the suites this row has scores on',
    }),
    suitesScored: z.number().int(),
    retention: z.number().nullable().openapi({ description: 'mean delta over retention suites' }),
    serving: z
      .object({
        requests: z.number().int(),
        p50Ms: z.number(),
        p95Ms: z.number(),
        tokensPerSecond: z.number().optional(),
      })
      .nullable()
      .openapi({
        description:
          "latency (from a generation slot to the last token) over the version's latest 1000 " +
          'answered requests; null when it never answered one',
      }),
    verdict: z
      .object({
        outcome: z.enum(['pass', 'fail', 'no_data']),
        gate: z.string(),
        gateVersion: z.number().int(),
        createdAt: z.string(),
      })
      .nullable(),
  })
  .openapi('LeaderboardRow');
export type LeaderboardRow = z.infer<typeof leaderboardRow>;

export const leaderboard = z
  .object({
    suites: z.array(
      z.object({
        name: z.string(),
        purpose: z.enum(['target', 'retention', 'safety']),
        metric: z.string(),
        version: z.number().int(),
      }),
    ),
    sort: z.string(),
    total: z.number().int().openapi({ description: 'rows after the filters' }),
    rows: z.array(leaderboardRow),
    nextPageToken: z.string().nullable(),
  })
  .openapi('Leaderboard');
export type Leaderboard = z.infer<typeof leaderboard>;
