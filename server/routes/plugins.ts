import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { bearerSecurity, createRouter, errorResponses, jsonResponse } from '../http/openapi.ts';
import { authorize } from '../services/principal.ts';

const pluginInfo = z
  .object({
    name: z.string(),
    version: z.string(),
    sdk: z.string(),
    description: z.string().optional(),
    capabilities: z.array(z.string()),
    source: z.string(),
    configSchema: z.unknown().openapi({ description: 'JSON schema of the run config' }),
  })
  .openapi('Plugin');

/** The trainer plugins this server can run, with the JSON schema of each one's config. */
export function pluginRoutes(deps: AppDeps) {
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/plugins',
      tags: ['plugins'],
      security: bearerSecurity,
      responses: {
        200: jsonResponse(z.object({ plugins: z.array(pluginInfo) }), 'Installed trainer plugins'),
        ...errorResponses,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      authorize(principal, principal?.projectId ?? null, 'read', deps.config.HELDOUT_PUBLIC_READ);
      return c.json({ plugins: await deps.plugins.list() }, 200);
    },
  );
}
