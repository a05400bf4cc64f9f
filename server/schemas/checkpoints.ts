import { z } from '@hono/zod-openapi';

export const checkpointParam = z.object({ checkpointId: z.uuid() });

export const registerCheckpointBody = z
  .object({
    step: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    kind: z.enum(['full', 'adapter']),
    trainableParams: z.number().int().min(0).optional(),
    totalParams: z.number().int().min(0).optional(),
  })
  .openapi('RegisterCheckpoint');

export const checkpoint = z
  .object({
    id: z.uuid(),
    projectId: z.number().int(),
    runId: z.uuid().nullable(),
    kind: z.enum(['full', 'adapter']),
    step: z.number().int().nullable(),
    sha256: z.string().openapi({ description: 'of the weights file' }),
    sizeBytes: z.number().int().openapi({ description: 'of the weights file' }),
    trainableParams: z.number().int().nullable(),
    totalParams: z.number().int().nullable(),
    baseCheckpointId: z.uuid().nullable(),
    path: z
      .string()
      .openapi({ description: "artifact prefix of the checkpoint's files in its run" }),
    files: z.array(z.object({ name: z.string(), sizeBytes: z.number().int(), sha256: z.string() })),
    modelConfig: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
  })
  .openapi('Checkpoint');
export type Checkpoint = z.infer<typeof checkpoint>;
