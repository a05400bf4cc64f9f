import { createRoute } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { bearerSecurity, createRouter, errorResponses, jsonResponse } from '../http/openapi.ts';
import { projectParam } from '../schemas/common.ts';
import { leaderboard, leaderboardQuery } from '../schemas/leaderboard.ts';
import { leaderboard as loadLeaderboard } from '../services/leaderboard.ts';
import { authorizeProject } from './access.ts';

/** The project's leaderboard: model versions scored on the active suites, ranked. */
export function leaderboardRoutes(deps: AppDeps) {
  const { db } = deps.database;
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/projects/{project}/leaderboard',
      tags: ['leaderboard'],
      security: bearerSecurity,
      summary: 'A row per model version: scores ± CI on each active suite, deltas, rank, verdict',
      request: { params: projectParam, query: leaderboardQuery },
      responses: { 200: jsonResponse(leaderboard, 'Highest first'), ...errorResponses },
    }),
    async (c) => {
      const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
      return c.json(await loadLeaderboard(db, project.id, c.req.valid('query')), 200);
    },
  );
}
