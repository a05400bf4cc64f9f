import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { checkpoint, checkpointParam, registerCheckpointBody } from '../schemas/checkpoints.ts';
import { runParam } from '../schemas/common.ts';
import {
  findCheckpoint,
  presentCheckpoints,
  registerCheckpoint,
  runCheckpoints,
} from '../services/checkpoints.ts';
import { evaluateNewCheckpoint } from '../services/evaluations.ts';
import { authorize } from '../services/principal.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';
import { authorizeRun } from './access.ts';

const tags = ['checkpoints'];

/** Checkpoints: a run's uploaded weight files, registered under the sha256 the server computed. */
export function checkpointRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const store = blobStoreFor(deps.config.dataDir);
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/runs/{runId}/checkpoints',
        tags,
        security: bearerSecurity,
        summary:
          'Register the checkpoint whose files were uploaded as artifacts under checkpoints/step-N/',
        request: { params: runParam, body: jsonBody(registerCheckpointBody) },
        responses: { 201: jsonResponse(checkpoint, 'The checkpoint'), ...errorResponses },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'write');
        const row = await registerCheckpoint(db, store, runId, c.req.valid('json'));
        // Evaluation is the gate: every checkpoint is scored on every active suite.
        await evaluateNewCheckpoint(db, deps.queue, row);
        const [presented] = await presentCheckpoints(db, [row]);
        return c.json(presented!, 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/runs/{runId}/checkpoints',
        tags,
        security: bearerSecurity,
        request: { params: runParam },
        responses: {
          200: jsonResponse(
            z.object({ checkpoints: z.array(checkpoint) }),
            'By step, at most 10000 (and 10000 files of each)',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'read');
        return c.json(
          { checkpoints: await presentCheckpoints(db, await runCheckpoints(db, runId)) },
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/checkpoints/{checkpointId}',
        tags,
        security: bearerSecurity,
        request: { params: checkpointParam },
        responses: { 200: jsonResponse(checkpoint, 'The checkpoint'), ...errorResponses },
      }),
      async (c) => {
        const row = await findCheckpoint(db, c.req.valid('param').checkpointId);
        authorize(c.get('principal'), row.projectId, 'read', deps.config.HELDOUT_PUBLIC_READ);
        const [presented] = await presentCheckpoints(db, [row]);
        return c.json(presented!, 200);
      },
    );
}
