import { z } from '@hono/zod-openapi';
import { projectName, projectParam } from './common.ts';

export const protectedAliasParams = projectParam.extend({
  alias: projectName.openapi({ param: { name: 'alias', in: 'path' }, example: 'production' }),
});

export const aliasProtection = z
  .object({
    alias: z.string(),
    protected: z.boolean(),
    gate: z
      .object({ id: z.number().int(), name: z.string(), version: z.number().int() })
      .nullable()
      .openapi({
        description:
          'the gate version a promotion to this alias must pass; null on a protected alias: the first passing promotion binds the gate it ran',
      }),
    source: z.enum(['default', 'set']).openapi({
      description:
        "'default': protected because every project protects this name until an admin decides",
    }),
    updatedByTokenId: z.number().int().nullable(),
    updatedAt: z.string().nullable(),
  })
  .openapi('AliasProtection');
export type AliasProtection = z.infer<typeof aliasProtection>;

export const setAliasProtectionBody = z
  .strictObject({
    protected: z.boolean().default(true),
    gate: projectName.optional().openapi({
      description: 'the gate to bind; required to protect an alias that has no gate bound yet',
    }),
    gateVersion: z
      .number()
      .int()
      .min(1)
      .max(1_000_000_000)
      .optional()
      .openapi({ description: 'the version to pin; the latest if absent' }),
  })
  .superRefine((b, ctx) => {
    if (!b.protected && (b.gate !== undefined || b.gateVersion !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['gate'],
        message: 'an unprotected alias has no gate: give protected: true or no gate',
      });
    if (b.gateVersion !== undefined && b.gate === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['gateVersion'],
        message: 'give gate with gateVersion',
      });
  })
  .openapi('SetAliasProtection');
