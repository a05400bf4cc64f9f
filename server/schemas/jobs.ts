import { z } from '@hono/zod-openapi';

export const workerId = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/,
    'must be 1-200 letters, digits, ".", "_", ":", "@" or "-"',
  )
  .openapi({ description: 'who holds the job, e.g. host:pid:slot' });

export const jobParam = z.object({ jobId: z.uuid() });

export const claimBody = z.object({ workerId }).openapi('ClaimJob');

const checkpointSource = z.object({
  checkpointId: z.uuid(),
  runId: z.uuid(),
  path: z.string().openapi({ description: "artifact prefix of the checkpoint's files" }),
  sha256: z.string(),
});

const jobRef = z.object({
  id: z.uuid(),
  attempt: z.number().int().openapi({ description: '1 on the first try' }),
});
const modelSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('builtin'), name: z.string() }),
  checkpointSource.extend({ kind: z.literal('checkpoint') }),
]);

export const claimedEvaluation = z
  .object({
    kind: z.literal('evaluate'),
    job: jobRef,
    evaluation: z.object({
      id: z.uuid(),
      suite: z.string(),
      purpose: z.enum(['target', 'retention', 'safety']),
      suiteVersion: z.number().int(),
      metrics: z.array(z.string()),
      decoding: z.record(z.string(), z.unknown()),
      dataset: z.object({ path: z.string(), sha256: z.string(), rowCount: z.number().int() }),
    }),
    model: modelSource,
    modelKind: z.enum(['full', 'adapter']),
    /** For an adapter: the model it applies to. */
    adapterBase: modelSource.optional(),
    /**
     * The run's training data, when the checkpoint's memorisation is still to be measured: the
     * worker continues prefixes of training rows and reports what it generated.
     */
    memorisation: z
      .array(
        z.object({
          path: z.string(),
          sha256: z.string(),
          kind: z.enum(['text', 'sft', 'preference', 'eval']),
        }),
      )
      .optional(),
  })
  .openapi('ClaimedEvaluation');
export type ClaimedEvaluation = z.infer<typeof claimedEvaluation>;

export const claimedTraining = z
  .object({
    kind: z.literal('train'),
    job: z.object({
      id: z.uuid(),
      attempt: z.number().int().openapi({ description: '1 on the first try' }),
    }),
    run: z.object({
      id: z.uuid(),
      projectId: z.number().int(),
      name: z.string(),
      plugin: z.string(),
      pluginVersion: z.string().nullable(),
      config: z.record(z.string(), z.unknown()),
    }),
    baseModel: modelSource,
    baseAdapter: checkpointSource.optional().openapi({
      description:
        'the LoRA adapter the run starts from (its baseCheckpointId), on baseModel: the model that adapter applies to',
    }),
    models: z.record(z.string(), checkpointSource).openapi({
      description: "other checkpoints the trainer reads, by role (PPO's reward model)",
    }),
    datasets: z.array(
      z.object({
        role: z.enum(['train', 'validation']),
        kind: z.enum(['text', 'sft', 'preference', 'eval']),
        sha256: z.string(),
        rowCount: z.number().int(),
        path: z.string().openapi({ description: 'API path of the JSONL content' }),
      }),
    ),
  })
  .openapi('ClaimedTraining');
export type ClaimedTraining = z.infer<typeof claimedTraining>;

export const claimedJob = z.discriminatedUnion('kind', [claimedTraining, claimedEvaluation]);
export type ClaimedJob = z.infer<typeof claimedJob>;

/** What a job works on, for the logs: a run's id, or an evaluation's. */
export const subjectOf = (job: ClaimedJob) =>
  job.kind === 'train' ? { runId: job.run.id } : { evaluationId: job.evaluation.id };

export const heartbeatBody = z.object({ workerId }).openapi('Heartbeat');
export const heartbeatAnswer = z.object({
  stop: z.boolean(),
  reason: z.enum(['cancelled', 'reassigned']).optional(),
});

export const jobResult = z.object({
  steps: z.number().int().min(0),
  finalCheckpointId: z.uuid().optional(),
});
export type JobResult = z.infer<typeof jobResult>;

export const completeBody = z.object({ workerId, result: jobResult }).openapi('CompleteJob');
export const failBody = z
  .object({
    workerId,
    error: z.string().min(1).max(100_000),
    retryable: z
      .boolean()
      .openapi({ description: 'false for failures no retry can mend (a bad config)' }),
  })
  .openapi('FailJob');
