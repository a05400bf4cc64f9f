import { z } from '@hono/zod-openapi';
import { projectName, projectParam } from './common.ts';

// Gate, model and alias names follow project names: a letter first, so they read well in URLs.
const name = projectName;
const description = z.string().max(10_000).optional();
const versionNumber = z.number().int().min(1).max(1_000_000_000);
const pathVersion = z.coerce
  .number('must be a version number')
  .int('must be a version number')
  .min(1, 'must be a version number')
  .max(1_000_000_000);

export const gateParams = projectParam.extend({
  name: name.openapi({ param: { name: 'name', in: 'path' }, example: 'release' }),
});
export const gateQuery = z.object({
  version: pathVersion
    .optional()
    .openapi({ description: 'a version of the gate; latest if absent' }),
});

export const saveGateBody = z
  .object({
    name,
    // Validated by the gate engine's own schema in the service, so the 400 names `policy.<path>`.
    policy: z.unknown().openapi({ description: 'the gate policy: a check tree (see evaluators)' }),
    description,
  })
  .openapi('SaveGate');

export const gate = z
  .object({
    id: z.number().int(),
    projectId: z.number().int(),
    name: z.string(),
    version: z.number().int(),
    policy: z.unknown(),
    description: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Gate');
export type Gate = z.infer<typeof gate>;

export const modelParams = projectParam.extend({
  name: name.openapi({ param: { name: 'name', in: 'path' }, example: 'support-bot' }),
});
export const aliasParams = modelParams.extend({
  alias: name.openapi({ param: { name: 'alias', in: 'path' }, example: 'production' }),
});

export const createModelBody = z.object({ name, description }).openapi('CreateModel');
export const createVersionBody = z
  .object({ checkpointId: z.uuid('must be a checkpoint id (a UUID)'), description })
  .openapi('CreateModelVersion');
export const setAliasBody = z
  .object({
    version: versionNumber,
    protected: z
      .boolean()
      .optional()
      .openapi({ description: 'true is refused here: protect an alias through a promotion' }),
  })
  .openapi('SetAlias');

export const modelVersion = z
  .object({
    id: z.number().int(),
    version: z.number().int(),
    checkpointId: z.uuid(),
    runId: z.uuid().nullable(),
    description: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('ModelVersion');
export type ModelVersion = z.infer<typeof modelVersion>;

export const alias = z
  .object({
    model: z.string(),
    alias: z.string(),
    version: z.number().int(),
    checkpointId: z.uuid(),
    protected: z.boolean(),
    updatedAt: z.string(),
  })
  .openapi('ModelAlias');
export type Alias = z.infer<typeof alias>;

export const model = z
  .object({
    id: z.number().int(),
    projectId: z.number().int(),
    name: z.string(),
    description: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Model');
export type Model = z.infer<typeof model>;

export const modelDetail = model
  .extend({ versions: z.array(modelVersion), aliases: z.array(alias) })
  .openapi('ModelDetail');

export const verdictParam = z.object({
  verdictId: z.uuid('must be a verdict id (a UUID)').openapi({
    param: { name: 'verdictId', in: 'path' },
  }),
});
export const verdictQuery = z.object({
  format: z
    .enum(['json', 'junit', 'markdown'])
    .default('json')
    .openapi({ description: 'json, or the rendered report as text' }),
});

export const computeVerdictBody = z
  .object({
    model: name,
    version: versionNumber,
    alias: name
      .optional()
      .openapi({ description: 'the alias whose version is the champion baseline; none if absent' }),
    gateVersion: versionNumber.optional().openapi({ description: 'latest if absent' }),
  })
  .openapi('ComputeVerdict');

export const verdict = z
  .object({
    id: z.uuid(),
    gate: z.object({ name: z.string(), version: z.number().int() }),
    model: z.string(),
    version: z.number().int(),
    outcome: z.enum(['pass', 'fail', 'no_data']),
    checks: z.array(z.record(z.string(), z.unknown())),
    createdByTokenId: z.number().int().nullable(),
    createdAt: z.string(),
  })
  .openapi('Verdict');
export type VerdictBody = z.infer<typeof verdict>;

export const promoteBody = z
  .object({
    project: z.string().min(1).max(100).openapi({ description: 'project id or name' }),
    model: name,
    version: versionNumber,
    alias: name,
    gate: name.optional().openapi({ description: 'compute a verdict now with this gate' }),
    verdictId: z.uuid('must be a verdict id (a UUID)').optional(),
    protected: z.boolean().optional().openapi({
      description: 'protect (or unprotect) the alias; either needs a passing verdict',
    }),
    reason: z.string().max(10_000).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.gate !== undefined && b.verdictId !== undefined)
      ctx.addIssue({ code: 'custom', path: ['gate'], message: 'give gate or verdictId, not both' });
  })
  .openapi('Promote');

export const promotion = z
  .object({
    id: z.number().int(),
    model: z.string(),
    alias: z.string(),
    fromVersion: z.number().int().nullable(),
    toVersion: z.number().int(),
    protected: z.boolean().optional(),
    verdictId: z.uuid().nullable(),
    verdictOutcome: z.enum(['pass', 'fail', 'no_data']).nullable(),
    actorTokenId: z.number().int().nullable(),
    reason: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Promotion');
export type Promotion = z.infer<typeof promotion>;
