import { z } from '@hono/zod-openapi';
import { limit, pageToken } from './common.ts';
import { evaluation, finding, suiteName } from './suites.ts';

export const evaluationParam = z.object({
  evaluationId: z.uuid('must be a UUID').openapi({ param: { name: 'evaluationId', in: 'path' } }),
});

export const casesQuery = z.object({
  limit: limit(1000, 100),
  pageToken,
  outcome: z
    .enum(['all', 'passed', 'failed'])
    .default('all')
    .openapi({ description: "by the suite's pass threshold on its first metric" }),
});

/** A case's outputs with the frozen row it came from (`input`, `expected`). */
export const evaluationCase = z
  .object({
    caseId: z.string(),
    input: z.string().nullable().openapi({ description: "null when the suite's row is gone" }),
    expected: z.union([z.string(), z.array(z.string())]).nullable(),
    output: z.string(),
    scores: z.record(z.string(), z.number()),
    passed: z.boolean().nullable(),
    latencyMs: z.number().nullable(),
    humanRating: z
      .object({ mean: z.number(), n: z.number().int() })
      .nullable()
      .openapi({ description: 'mean 1-5 rating over the annotators who rated the case' }),
  })
  .openapi('EvaluationCase');

export const casesPage = z
  .object({ cases: z.array(evaluationCase), nextPageToken: z.string().nullable() })
  .openapi('EvaluationCases');

export const diffParam = z.object({
  a: z.uuid('must be a UUID').openapi({ param: { name: 'a', in: 'path' } }),
  b: z.uuid('must be a UUID').openapi({ param: { name: 'b', in: 'path' } }),
});

export const diffQuery = z.object({ limit: limit(1000, 100) });

const diffSide = z.object({
  id: z.uuid(),
  checkpointId: z.uuid(),
  runId: z.uuid().nullable(),
  runName: z.string().nullable(),
  step: z.number().int().nullable(),
});

export const caseChange = z.enum(['pass_to_fail', 'fail_to_pass', 'same']);

export const evaluationDiff = z
  .object({
    a: diffSide,
    b: diffSide,
    suite: z.string(),
    suiteVersion: z.number().int(),
    metric: z.string().openapi({ description: "the suite version's first metric" }),
    summary: z.object({
      cases: z.number().int(),
      passToFail: z.number().int(),
      failToPass: z.number().int(),
      bothPass: z.number().int(),
      bothFail: z.number().int(),
      meanDelta: z.number().nullable().openapi({ description: 'mean of scoreB - scoreA' }),
    }),
    cases: z
      .array(
        z.object({
          caseId: z.string(),
          input: z.string().nullable(),
          expected: z.union([z.string(), z.array(z.string())]).nullable(),
          outputA: z.string(),
          outputB: z.string(),
          scoreA: z.number().nullable(),
          scoreB: z.number().nullable(),
          delta: z.number().nullable(),
          change: caseChange,
        }),
      )
      .openapi({ description: 'pass->fail, then fail->pass, then by |delta| descending' }),
  })
  .openapi('EvaluationDiff');

export const located = finding
  .extend({
    runId: z.uuid().nullable(),
    checkpointId: z.uuid().nullable(),
    suiteVersionId: z.number().int().nullable(),
  })
  .openapi('LocatedFinding');

export const findingsPage = z
  .object({ findings: z.array(located), nextPageToken: z.string().nullable() })
  .openapi('Findings');

export const findingsQuery = z.object({
  detector: z.enum(['overfitting', 'forgetting', 'memorisation', 'contamination']).optional(),
  severity: z.enum(['info', 'warn', 'block']).optional(),
  limit: limit(1000, 100),
  pageToken,
});

export const pageQuery = z.object({ limit: limit(1000, 100), pageToken });

export const runJob = z
  .object({
    id: z.uuid(),
    kind: z.enum(['train', 'evaluate']),
    status: z.string(),
    attempts: z.number().int(),
    workerId: z.string().nullable(),
    error: z.string().nullable(),
    evaluationId: z.uuid().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    heartbeatAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi('RunJob');

export const runJobsPage = z
  .object({ jobs: z.array(runJob), nextPageToken: z.string().nullable() })
  .openapi('RunJobs');

export const projectEvaluationsQuery = z.object({
  suite: suiteName.optional(),
  suiteVersion: z.coerce.number().int().min(1).optional().openapi({ description: 'needs suite' }),
  status: z.enum(['queued', 'running', 'finished', 'failed']).optional(),
  checkpointId: z.uuid('must be a UUID').optional(),
  limit: limit(1000, 100),
  pageToken,
});

export const evaluationWithCheckpoint = evaluation
  .extend({
    checkpoint: z.object({
      id: z.uuid(),
      name: z.string().nullable(),
      step: z.number().int().nullable(),
      runId: z.uuid().nullable(),
      runName: z.string().nullable(),
    }),
  })
  .openapi('ProjectEvaluation');

export const projectEvaluationsPage = z
  .object({ evaluations: z.array(evaluationWithCheckpoint), nextPageToken: z.string().nullable() })
  .openapi('ProjectEvaluations');
