import { z } from '@hono/zod-openapi';
import { projectName, timestamp } from './common.ts';

export const createProjectBody = z
  .object({ name: projectName, description: z.string().max(10_000).optional() })
  .openapi('CreateProject');

export const project = z
  .object({
    id: z.number().int(),
    name: z.string(),
    description: z.string().nullable(),
    createdAt: timestamp,
  })
  .openapi('Project');

export const projectDetail = project
  .extend({
    storageBytes: z.number().int().openapi({
      description:
        "bytes of the project's artifacts and dataset versions, as the quota counts them",
    }),
    storageQuotaBytes: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'HELDOUT_PROJECT_QUOTA_BYTES; null when there is no quota' }),
  })
  .openapi('ProjectDetail');

export const role = z.enum(['read', 'write', 'admin']);

export const createTokenBody = z
  .object({
    name: z.string().min(1).max(200),
    role,
    expiresAt: timestamp.optional().openapi({ description: 'never expires when absent' }),
  })
  .openapi('CreateToken');

export const tokenInfo = z
  .object({
    id: z.number().int(),
    projectId: z.number().int().nullable(),
    name: z.string(),
    role,
    prefix: z.string().openapi({ description: 'the first characters, to tell tokens apart' }),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable(),
    expiresAt: timestamp.nullable(),
    revokedAt: timestamp.nullable(),
  })
  .openapi('Token');

export const createdToken = tokenInfo
  .extend({
    token: z.string().openapi({ description: 'shown only in this response; store it now' }),
  })
  .openapi('CreatedToken');

export type Project = z.infer<typeof project>;
export type TokenInfo = z.infer<typeof tokenInfo>;
export type CreatedToken = z.infer<typeof createdToken>;
