import { createRoute, z } from '@hono/zod-openapi';
import { desc, inArray } from 'drizzle-orm';
import { evaluations } from '../db/schema/index.ts';
import type { AppDeps } from '../http/env.ts';
import { bearerSecurity, createRouter, errorResponses, jsonResponse } from '../http/openapi.ts';
import { runParam } from '../schemas/common.ts';
import { evaluation } from '../schemas/suites.ts';
import { runCheckpoints } from '../services/checkpoints.ts';
import { presentEvaluations, rootBase } from '../services/evaluations.ts';
import { authorizeRun } from './access.ts';

/**
 * Every evaluation of a run's checkpoints and of the base at the root of their lineage, in one
 * answer: what the run page plots on the loss chart's second axis and as a delta heatmap.
 */
export function runEvaluationRoutes(deps: AppDeps) {
  const { db } = deps.database;
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/runs/{runId}/evaluations',
      tags: ['evaluations'],
      security: bearerSecurity,
      request: { params: runParam },
      responses: {
        200: jsonResponse(
          z.object({
            evaluations: z.array(evaluation),
            base: z
              .object({ checkpointId: z.uuid(), evaluations: z.array(evaluation) })
              .nullable()
              .openapi({ description: 'null before the run wrote a checkpoint' }),
          }),
          "The run's checkpoints' evaluations and its base's, newest first",
        ),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { runId } = c.req.valid('param');
      await authorizeRun(deps, c, runId, 'read');
      const written = await runCheckpoints(db, runId);
      if (!written.length) return c.json({ evaluations: [], base: null }, 200);
      const base = await rootBase(db, written[0]!);
      const rows = await db
        .select()
        .from(evaluations)
        .where(inArray(evaluations.checkpointId, [...written.map((w) => w.id), base.id]))
        .orderBy(desc(evaluations.createdAt))
        .limit(10_000);
      const presented = await presentEvaluations(db, rows);
      return c.json(
        {
          evaluations: presented.filter((e) => e.checkpointId !== base.id),
          base: {
            checkpointId: base.id,
            evaluations: presented.filter((e) => e.checkpointId === base.id),
          },
        },
        200,
      );
    },
  );
}
