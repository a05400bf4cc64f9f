import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import {
  aliasProtection,
  protectedAliasParams,
  setAliasProtectionBody,
} from '../schemas/alias-protection.ts';
import { projectParam } from '../schemas/common.ts';
import { listProtections } from '../services/alias-protection.ts';
import { configureProtection } from '../services/promotions.ts';
import { authorizeProject } from './access.ts';

const tags = ['registry'];

/** Which alias names of a project are protected, and by which gate version: admins set them. */
export function protectedAliasRoutes(deps: AppDeps) {
  const { db } = deps.database;
  return createRouter()
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/protected-aliases',
        tags,
        security: bearerSecurity,
        summary: 'Protected alias names and the gate version each requires',
        request: { params: projectParam },
        responses: {
          200: jsonResponse(
            z.object({ aliases: z.array(aliasProtection) }),
            'production is protected on every project until an admin unprotects it',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        return c.json({ aliases: await listProtections(db, project.id) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'put',
        path: '/projects/{project}/protected-aliases/{alias}',
        tags,
        security: bearerSecurity,
        summary: 'Protect an alias name with a gate version, or unprotect it (admin tokens only)',
        request: { params: protectedAliasParams, body: jsonBody(setAliasProtectionBody) },
        responses: { 200: jsonResponse(aliasProtection, 'The rule now'), ...errorResponses },
      }),
      async (c) => {
        const { project: key, alias } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'write');
        const rule = await configureProtection(
          db,
          project.id,
          alias,
          c.req.valid('json'),
          c.get('principal'),
        );
        return c.json(rule, 200);
      },
    );
}
