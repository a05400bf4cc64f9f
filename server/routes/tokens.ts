import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { createdToken, tokenInfo } from '../schemas/projects.ts';
import { createGlobalTokenBody } from '../schemas/tokens.ts';
import { authorize, requirePrincipal } from '../services/principal.ts';
import { createGlobalToken, listTokens, presentToken } from '../services/projects.ts';

const tags = ['projects'];

/**
 * Tokens for every project, for remote workers (`heldout tokens create --worker`), so they need
 * not run with the admin token. Revoked like any token, at DELETE /tokens/{tokenId}.
 */
export function tokenRoutes(deps: AppDeps) {
  const { db } = deps.database;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/tokens',
        tags,
        security: bearerSecurity,
        summary: 'Mint a token for every project (a worker token); needs a global admin token',
        request: { body: jsonBody(createGlobalTokenBody) },
        responses: {
          201: jsonResponse(createdToken, 'The token, shown only here'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const principal = c.get('principal');
        requirePrincipal(principal);
        const { token, row } = await createGlobalToken(db, principal, c.req.valid('json'));
        return c.json({ ...presentToken(row), token }, 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/tokens',
        tags,
        security: bearerSecurity,
        responses: {
          200: jsonResponse(
            z.object({ tokens: z.array(tokenInfo) }),
            'Tokens for every project (admin, workers)',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        authorize(c.get('principal'), null, 'admin');
        return c.json({ tokens: (await listTokens(db, null)).map(presentToken) }, 200);
      },
    );
}
