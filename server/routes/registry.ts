import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { projectParam } from '../schemas/common.ts';
import {
  alias,
  aliasParams,
  createModelBody,
  createVersionBody,
  model,
  modelDetail,
  modelParams,
  modelVersion,
  promoteBody,
  promotion,
  setAliasBody,
  verdict,
} from '../schemas/registry.ts';
import { listVerdicts } from '../services/gates.ts';
import { promote } from '../services/promotions.ts';
import {
  createModel,
  createVersion,
  findModel,
  getAlias,
  listModels,
  listPromotions,
  modelDetail as loadModelDetail,
  presentModel,
  presentVersion,
  setAlias,
} from '../services/registry.ts';
import { authorizeProject } from './access.ts';

const tags = ['registry'];

/** The model registry: models, their versions (checkpoints), aliases, and promotions. */
export function registryRoutes(deps: AppDeps) {
  const { db } = deps.database;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/models',
        tags,
        security: bearerSecurity,
        request: { params: projectParam, body: jsonBody(createModelBody) },
        responses: { 201: jsonResponse(model, 'The new model'), ...errorResponses },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'write');
        return c.json(presentModel(await createModel(db, project.id, c.req.valid('json'))), 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/models',
        tags,
        security: bearerSecurity,
        request: { params: projectParam },
        responses: {
          200: jsonResponse(z.object({ models: z.array(model) }), 'By name, at most 10000'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        return c.json({ models: (await listModels(db, project.id)).map(presentModel) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/models/{name}',
        tags,
        security: bearerSecurity,
        request: { params: modelParams },
        responses: {
          200: jsonResponse(
            modelDetail,
            'The model, its versions and aliases (at most 10000 of each)',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { project: key, name } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'read');
        return c.json(await loadModelDetail(db, await findModel(db, project.id, name)), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/models/{name}/versions',
        tags,
        security: bearerSecurity,
        summary: "Register one of the project's checkpoints as the model's next version",
        request: { params: modelParams, body: jsonBody(createVersionBody) },
        responses: { 201: jsonResponse(modelVersion, 'The new version'), ...errorResponses },
      }),
      async (c) => {
        const { project: key, name } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'write');
        const found = await findModel(db, project.id, name);
        return c.json(presentVersion(await createVersion(db, found, c.req.valid('json'))), 201);
      },
    )
    .openapi(
      createRoute({
        method: 'put',
        path: '/projects/{project}/models/{name}/aliases/{alias}',
        tags,
        security: bearerSecurity,
        summary: 'Point an unprotected alias at a version (protected ones move by promotion)',
        request: { params: aliasParams, body: jsonBody(setAliasBody) },
        responses: { 200: jsonResponse(alias, 'The alias'), ...errorResponses },
      }),
      async (c) => {
        const { project: key, name, alias: aliasName } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'write');
        const found = await findModel(db, project.id, name);
        const moved = await setAlias(db, found, aliasName, {
          ...c.req.valid('json'),
          actorTokenId: c.get('principal')!.tokenId,
        });
        return c.json(moved, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/models/{name}/aliases/{alias}',
        tags,
        security: bearerSecurity,
        request: { params: aliasParams },
        responses: { 200: jsonResponse(alias, 'The alias'), ...errorResponses },
      }),
      async (c) => {
        const { project: key, name, alias: aliasName } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'read');
        return c.json(await getAlias(db, await findModel(db, project.id, name), aliasName), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/models/{name}/promotions',
        tags,
        security: bearerSecurity,
        summary: "The audit trail of the model's alias moves",
        request: { params: modelParams },
        responses: {
          200: jsonResponse(
            z.object({ promotions: z.array(promotion) }),
            'Newest first, at most 10000',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { project: key, name } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'read');
        return c.json(
          { promotions: await listPromotions(db, await findModel(db, project.id, name)) },
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/models/{name}/verdicts',
        tags,
        security: bearerSecurity,
        summary: "Every gate verdict on the model's versions, passing or not (the newest 200)",
        request: { params: modelParams },
        responses: {
          200: jsonResponse(z.object({ verdicts: z.array(verdict) }), 'Newest first'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { project: key, name } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'read');
        return c.json(
          { verdicts: await listVerdicts(db, await findModel(db, project.id, name)) },
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/promotions',
        tags,
        security: bearerSecurity,
        summary:
          'Move an alias to a version; a protected alias needs a passing verdict for that version',
        request: { body: jsonBody(promoteBody) },
        responses: {
          201: jsonResponse(
            z.object({ promotion, alias, verdict: verdict.nullable() }),
            'The alias moved',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const body = c.req.valid('json');
        const project = await authorizeProject(deps, c, body.project, 'write');
        const result = await promote(db, {
          ...body,
          projectId: project.id,
          principal: c.get('principal')!,
        });
        return c.json(result, 201);
      },
    );
}
