import { z } from '@hono/zod-openapi';
import { METRICS, type MetricName } from '../../evaluators/registry.ts';

const metricNames = Object.keys(METRICS) as [MetricName, ...MetricName[]];

export const suiteName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9._-]{0,99}$/,
    'must start with a letter and hold at most 100 letters, digits, ".", "_" or "-"',
  );

export const suiteParam = z.object({
  project: z.string().openapi({ param: { name: 'project', in: 'path' } }),
  suite: suiteName.openapi({ param: { name: 'suite', in: 'path' } }),
});

export const createSuiteBody = z
  .object({
    name: suiteName,
    purpose: z.enum(['target', 'retention', 'safety']).openapi({
      description: 'target: the skill a fine-tune is for; retention: general skills it must keep',
    }),
    description: z.string().max(2000).optional(),
  })
  .openapi('CreateSuite');

/** Greedy by default: evaluations are only comparable under identical decoding. */
export const decodingSchema = z
  .object({
    maxNewTokens: z.number().int().min(1).max(1024).default(32),
    temperature: z.number().min(0).max(5).default(0),
    topP: z.number().gt(0).max(1).default(1),
    seed: z.number().int().min(0).default(0),
    stop: z.array(z.string().min(1).max(100)).max(8).default(['\n']),
  })
  .strict();

export const createSuiteVersionBody = z
  .object({
    datasetVersionId: z
      .number()
      .int()
      .positive()
      .openapi({ description: 'an eval dataset version' }),
    metrics: z.array(z.enum(metricNames)).min(1).max(10),
    decoding: decodingSchema.default({
      maxNewTokens: 32,
      temperature: 0,
      topP: 1,
      seed: 0,
      stop: ['\n'],
    }),
    passThreshold: z.number().min(0).max(100).default(1).openapi({
      description: "a case passes when the first metric's score reaches this",
    }),
  })
  .openapi('CreateSuiteVersion');

export const suiteVersion = z
  .object({
    id: z.number().int(),
    version: z.number().int(),
    datasetVersionId: z.number().int(),
    metrics: z.array(z.string()),
    decoding: z.record(z.string(), z.unknown()),
    passThreshold: z.number(),
    caseCount: z.number().int(),
    createdAt: z.string(),
  })
  .openapi('SuiteVersion');

export const suite = z
  .object({
    id: z.number().int(),
    name: z.string(),
    purpose: z.enum(['target', 'retention', 'safety']),
    active: z.boolean(),
    description: z.string().nullable(),
    versions: z.array(suiteVersion),
  })
  .openapi('Suite');

export const updateSuiteBody = z.object({ active: z.boolean() }).openapi('UpdateSuite');

const aggregate = z.object({
  value: z.number(),
  low: z.number(),
  high: z.number(),
  confidence: z.number(),
  n: z.number().int(),
  metricVersion: z.string(),
});

export const evaluation = z
  .object({
    id: z.uuid(),
    checkpointId: z.uuid(),
    suite: z.string(),
    suiteVersion: z.number().int(),
    purpose: z.enum(['target', 'retention', 'safety']),
    metric: z.string().openapi({ description: "the suite version's first metric: its headline" }),
    status: z.enum(['queued', 'running', 'finished', 'failed']),
    aggregates: z.record(z.string(), aggregate).nullable(),
    caseCount: z.number().int().nullable(),
    error: z.string().nullable(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('Evaluation');

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const evaluationResultsBody = z
  .object({
    workerId: z.string().min(1).max(200),
    cases: z
      .array(
        z.object({
          caseId: z.string().min(1).max(200),
          caseHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest'),
          output: z.string().max(100_000),
          scores: z.record(z.string(), finite),
          latencyMs: z.number().min(0),
        }),
      )
      .max(100_000),
    aggregates: z.record(z.string(), aggregate),
    metricVersions: z.record(z.string(), z.string()),
    memorisation: z
      .array(
        z.object({
          index: z.number().int().min(0),
          prefix: z.string().max(10_000),
          suffix: z.string().max(10_000),
          continuation: z.string().max(10_000),
        }),
      )
      .max(10_000)
      .optional()
      .openapi({ description: 'greedy continuations of training-row prefixes, when asked for' }),
  })
  .openapi('EvaluationResults');
export type EvaluationResults = z.infer<typeof evaluationResultsBody>;

export const finding = z
  .object({
    id: z.number().int(),
    detector: z.enum(['overfitting', 'forgetting', 'memorisation', 'contamination']),
    severity: z.enum(['info', 'warn', 'block']),
    summary: z.string(),
    evidence: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
  })
  .openapi('Finding');
