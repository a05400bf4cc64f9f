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
  computeVerdictBody,
  gate,
  gateParams,
  gateQuery,
  saveGateBody,
  verdict,
  verdictParam,
  verdictQuery,
} from '../schemas/registry.ts';
import {
  computeVerdict,
  findGate,
  findVerdict,
  listGates,
  presentGate,
  renderVerdict,
  saveGate,
} from '../services/gates.ts';
import { authorize } from '../services/principal.ts';
import { findModel, findVersion, named } from '../services/registry.ts';
import { authorizeProject } from './access.ts';

const tags = ['gates'];

const reportTypes = {
  junit: 'application/xml; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
} as const;

/** Promotion gates (versioned policies) and the verdicts they give on model versions. */
export function gateRoutes(deps: AppDeps) {
  const { db } = deps.database;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/gates',
        tags,
        security: bearerSecurity,
        summary: 'Save a gate policy; a changed policy becomes the next version',
        request: { params: projectParam, body: jsonBody(saveGateBody) },
        responses: {
          200: jsonResponse(gate, 'The same policy as the latest version: that version'),
          201: jsonResponse(gate, 'A new version'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'write');
        const saved = await saveGate(db, project.id, c.req.valid('json'), c.get('principal'));
        return c.json(presentGate(saved.gate), saved.created ? 201 : 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/gates',
        tags,
        security: bearerSecurity,
        request: { params: projectParam },
        responses: {
          200: jsonResponse(
            z.object({ gates: z.array(gate) }),
            'Latest versions, by name, at most 10000',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        return c.json({ gates: (await listGates(db, project.id)).map(presentGate) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/gates/{name}',
        tags,
        security: bearerSecurity,
        request: { params: gateParams, query: gateQuery },
        responses: { 200: jsonResponse(gate, 'The gate'), ...errorResponses },
      }),
      async (c) => {
        const { project: key, name } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'read');
        const found = await findGate(db, project.id, name, c.req.valid('query').version);
        return c.json(presentGate(found), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/gates/{name}/verdicts',
        tags,
        security: bearerSecurity,
        summary:
          'Judge a model version with the gate, on its stored evaluations, and keep the verdict',
        request: { params: gateParams, body: jsonBody(computeVerdictBody) },
        responses: { 201: jsonResponse(verdict, 'The stored verdict'), ...errorResponses },
      }),
      async (c) => {
        const { project: key, name } = c.req.valid('param');
        const body = c.req.valid('json');
        const project = await authorizeProject(deps, c, key, 'write');
        const found = await (body.gateVersion === undefined
          ? findGate(db, project.id, name)
          : named('gateVersion', findGate(db, project.id, name, body.gateVersion)));
        const model = await named('model', findModel(db, project.id, body.model));
        const { verdict: result } = await computeVerdict(db, {
          gate: found,
          model,
          version: await named('version', findVersion(db, model, body.version)),
          alias: body.alias,
          tokenId: c.get('principal')!.tokenId,
        });
        return c.json(result, 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/verdicts/{verdictId}',
        tags,
        security: bearerSecurity,
        request: { params: verdictParam, query: verdictQuery },
        responses: {
          200: {
            description: 'The verdict as JSON, or its JUnit XML / Markdown report',
            content: {
              'application/json': { schema: verdict },
              [reportTypes.junit]: { schema: z.string() },
              [reportTypes.markdown]: { schema: z.string() },
            },
          },
          ...errorResponses,
        },
      }),
      async (c) => {
        const found = await findVerdict(db, c.req.valid('param').verdictId);
        authorize(c.get('principal'), found.projectId, 'read', deps.config.HELDOUT_PUBLIC_READ);
        const { format } = c.req.valid('query');
        if (format === 'json') return c.json(found.verdict, 200);
        return c.body(renderVerdict(found.verdict, format), 200, {
          'Content-Type': reportTypes[format],
        });
      },
    );
}
