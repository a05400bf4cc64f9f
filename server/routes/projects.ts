import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { authorizeProject } from './access.ts';
import { projectParam } from '../schemas/common.ts';
import {
  createProjectBody,
  createdToken,
  createTokenBody,
  project,
  projectDetail,
  tokenInfo,
} from '../schemas/projects.ts';
import { authorize, requirePrincipal } from '../services/principal.ts';
import {
  createProject,
  createToken,
  findToken,
  listProjects,
  listTokens,
  presentProject,
  presentToken,
  revokeToken,
} from '../services/projects.ts';
import { projectStorageView, storageLimits } from '../services/storage-quota.ts';

const tokenParam = z.object({
  tokenId: z.coerce
    .number()
    .int()
    .positive()
    .openapi({ param: { name: 'tokenId', in: 'path' } }),
});
const tags = ['projects'];

/** Projects and their API tokens. Creating a project needs a token valid for every project. */
export function projectRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const publicRead = deps.config.HELDOUT_PUBLIC_READ;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects',
        tags,
        security: bearerSecurity,
        request: { body: jsonBody(createProjectBody) },
        responses: { 201: jsonResponse(project, 'Created'), ...errorResponses },
      }),
      async (c) => {
        authorize(c.get('principal'), null, 'admin');
        return c.json(presentProject(await createProject(db, c.req.valid('json'))), 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects',
        tags,
        security: bearerSecurity,
        responses: {
          200: jsonResponse(
            z.object({ projects: z.array(project) }),
            'Projects this token can see',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const principal = c.get('principal');
        authorize(principal, principal?.projectId ?? null, 'read', publicRead);
        return c.json({ projects: (await listProjects(db, principal)).map(presentProject) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}',
        tags,
        security: bearerSecurity,
        request: { params: projectParam },
        responses: {
          200: jsonResponse(projectDetail, 'The project, with the bytes it stores'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const found = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        const storage = await projectStorageView(db, found.id, storageLimits(deps.config));
        return c.json({ ...presentProject(found), ...storage }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/tokens',
        tags,
        security: bearerSecurity,
        request: { params: projectParam, body: jsonBody(createTokenBody) },
        responses: {
          201: jsonResponse(createdToken, 'The token, shown only here'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const found = await authorizeProject(deps, c, c.req.valid('param').project, 'admin');
        const { token, row } = await createToken(db, c.get('principal')!, {
          projectId: found.id,
          ...c.req.valid('json'),
        });
        return c.json({ ...presentToken(row), token }, 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/tokens',
        tags,
        security: bearerSecurity,
        request: { params: projectParam },
        responses: {
          200: jsonResponse(z.object({ tokens: z.array(tokenInfo) }), 'Tokens of the project'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const found = await authorizeProject(deps, c, c.req.valid('param').project, 'admin');
        return c.json({ tokens: (await listTokens(db, found.id)).map(presentToken) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'delete',
        path: '/tokens/{tokenId}',
        tags,
        security: bearerSecurity,
        request: { params: tokenParam },
        responses: { 200: jsonResponse(tokenInfo, 'The revoked token'), ...errorResponses },
      }),
      async (c) => {
        const { tokenId } = c.req.valid('param');
        const principal = c.get('principal');
        requirePrincipal(principal); // a token at all, before saying whether the id exists
        const found = await findToken(db, tokenId);
        authorize(principal, found.projectId, 'admin');
        return c.json(presentToken(await revokeToken(db, tokenId)), 200);
      },
    );
}
