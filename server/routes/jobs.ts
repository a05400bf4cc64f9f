import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { AppError } from '../http/errors.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import {
  claimBody,
  claimedJob,
  completeBody,
  failBody,
  heartbeatAnswer,
  heartbeatBody,
  jobParam,
  subjectOf,
} from '../schemas/jobs.ts';
import { claimJob, completeJob, failJob, heartbeat } from '../services/jobs.ts';
import { recordOverfitting } from '../services/run-findings.ts';
import { requirePrincipal, roleAtLeast } from '../services/principal.ts';

const tags = ['jobs'];
const ok = z.object({ ok: z.literal(true) });

/** Worker calls need a token that covers every project: a worker runs any project's jobs. */
export function authorizeWorker(c: Context<AppEnv>) {
  const principal = c.get('principal');
  requirePrincipal(principal);
  if (principal.projectId !== null || !roleAtLeast(principal.role, 'write')) {
    throw new AppError(
      403,
      'forbidden',
      'workers need a write or admin token that is not tied to one project',
    );
  }
}

/**
 * The worker protocol: claim the next training job, heartbeat while it runs (the answer says when
 * to stop), then complete or fail it. Metrics, checkpoints and logs travel over the ordinary
 * run endpoints.
 */
export function jobRoutes(deps: AppDeps) {
  const { db } = deps.database;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/jobs/claim',
        tags,
        security: bearerSecurity,
        summary: 'Take the oldest waiting training job',
        request: { body: jsonBody(claimBody) },
        responses: {
          200: jsonResponse(claimedJob, 'The job, its run, base model and datasets'),
          204: { description: 'No job is waiting' },
          ...errorResponses,
        },
      }),
      async (c) => {
        authorizeWorker(c);
        const job = await claimJob(db, deps.queue, c.req.valid('json').workerId);
        if (!job) return c.body(null, 204);
        deps.logger.info(
          { jobId: job.job.id, kind: job.kind, ...subjectOf(job), attempt: job.job.attempt },
          'job claimed',
        );
        return c.json(job, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/jobs/{jobId}/heartbeat',
        tags,
        security: bearerSecurity,
        request: { params: jobParam, body: jsonBody(heartbeatBody) },
        responses: {
          200: jsonResponse(heartbeatAnswer, 'Whether the worker should stop the job'),
          ...errorResponses,
        },
      }),
      async (c) => {
        authorizeWorker(c);
        const { jobId } = c.req.valid('param');
        return c.json(await heartbeat(db, jobId, c.req.valid('json').workerId), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/jobs/{jobId}/complete',
        tags,
        security: bearerSecurity,
        request: { params: jobParam, body: jsonBody(completeBody) },
        responses: { 200: jsonResponse(ok, 'Recorded'), ...errorResponses },
      }),
      async (c) => {
        authorizeWorker(c);
        const { workerId, result } = c.req.valid('json');
        const job = await completeJob(db, deps.queue, c.req.valid('param').jobId, workerId, result);
        if (job.runId) {
          // A detector's failure must not undo a finished training: it is logged, not answered.
          await recordOverfitting(db, { id: job.runId, projectId: job.projectId }).catch(
            (err: unknown) =>
              deps.logger.error({ err, runId: job.runId }, 'overfitting detector failed'),
          );
        }
        return c.json({ ok: true as const }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/jobs/{jobId}/fail',
        tags,
        security: bearerSecurity,
        request: { params: jobParam, body: jsonBody(failBody) },
        responses: {
          200: jsonResponse(
            z.object({ outcome: z.enum(['retry', 'failed']) }),
            'Whether the job will be tried again',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        authorizeWorker(c);
        const { workerId, error, retryable } = c.req.valid('json');
        const outcome = await failJob(
          db,
          deps.queue,
          c.req.valid('param').jobId,
          workerId,
          error,
          retryable,
        );
        return c.json({ outcome }, 200);
      },
    );
}
