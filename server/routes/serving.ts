import { createRoute } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { bearerSecurity, createRouter, errorResponses, jsonResponse } from '../http/openapi.ts';
import { servingQuery, servingStats, versionParams } from '../schemas/serving.ts';
import { servingStats as loadServingStats } from '../serve/stats.ts';
import { findModel, findVersion } from '../services/registry.ts';
import { authorizeProject } from './access.ts';

/** How a model version performs when served over `/v1`: real requests, not a benchmark. */
export function servingRoutes(deps: AppDeps) {
  const { db } = deps.database;
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/projects/{project}/models/{name}/versions/{version}/serving',
      tags: ['registry'],
      security: bearerSecurity,
      summary: "Latency and throughput of the version's latest requests served over /v1",
      request: { params: versionParams, query: servingQuery },
      responses: { 200: jsonResponse(servingStats, 'Serving figures'), ...errorResponses },
    }),
    async (c) => {
      const { project: key, name, version: number } = c.req.valid('param');
      const project = await authorizeProject(deps, c, key, 'read');
      const model = await findModel(db, project.id, name);
      const version = await findVersion(db, model, number);
      const stats = await loadServingStats(db, version.id, c.req.valid('query').last);
      return c.json(
        {
          model: model.name,
          version: version.version,
          checkpointId: version.checkpointId,
          ...stats,
        },
        200,
      );
    },
  );
}
