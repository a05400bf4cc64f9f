import { z } from '@hono/zod-openapi';
import { timestamp } from './common.ts';

export const createGlobalTokenBody = z
  .object({
    name: z.string().min(1).max(200),
    role: z
      .enum(['read', 'write'], { message: 'must be read or write (admin tokens are not minted)' })
      .default('write')
      .openapi({ description: 'write (the default) for a worker' }),
    expiresAt: timestamp.openapi({
      description: 'required: a token for every project always expires (at most 366 days away)',
    }),
  })
  .openapi('CreateGlobalToken');
export type CreateGlobalToken = z.input<typeof createGlobalTokenBody>;
