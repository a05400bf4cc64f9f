import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq, isNull, or } from 'drizzle-orm';
import { evaluations, findings, jobs, suites } from '../db/schema/index.ts';
import type { AppDeps } from '../http/env.ts';
import { AppError, notFound } from '../http/errors.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { checkpointParam } from '../schemas/checkpoints.ts';
import { projectParam } from '../schemas/common.ts';
import {
  createSuiteBody,
  createSuiteVersionBody,
  evaluation,
  evaluationResultsBody,
  finding,
  suite,
  suiteParam,
  suiteVersion,
  updateSuiteBody,
} from '../schemas/suites.ts';
import { findCheckpoint } from '../services/checkpoints.ts';
import {
  builtinCheckpoint,
  enqueueEvaluations,
  presentEvaluations,
  recordEvaluation,
} from '../services/evaluations.ts';
import { authorize } from '../services/principal.ts';
import { addSuiteVersion, createSuite, findSuite, presentSuites } from '../services/suites.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';
import { authorizeProject } from './access.ts';
import { authorizeWorker } from './jobs.ts';

const tags = ['suites'];
const evaluationParam = z.object({
  evaluationId: z.uuid().openapi({ param: { name: 'evaluationId', in: 'path' } }),
});

/** Regression suites, their frozen versions, and the evaluations of checkpoints on them. */
export function suiteRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const publicRead = deps.config.HELDOUT_PUBLIC_READ;
  const store = blobStoreFor(deps.config.dataDir);
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/suites',
        tags,
        security: bearerSecurity,
        request: { params: projectParam, body: jsonBody(createSuiteBody) },
        responses: { 201: jsonResponse(suite, 'Created'), ...errorResponses },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'write');
        const row = await createSuite(db, project.id, c.req.valid('json'));
        return c.json((await presentSuites(db, [row]))[0]!, 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/suites',
        tags,
        security: bearerSecurity,
        request: { params: projectParam },
        responses: {
          200: jsonResponse(z.object({ suites: z.array(suite) }), 'With their versions'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        const rows = await db
          .select()
          .from(suites)
          .where(eq(suites.projectId, project.id))
          .orderBy(suites.name)
          .limit(1000);
        return c.json({ suites: await presentSuites(db, rows) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'patch',
        path: '/projects/{project}/suites/{suite}',
        tags,
        security: bearerSecurity,
        summary: 'Activate or retire a suite: only active suites score new checkpoints and gate',
        request: { params: suiteParam, body: jsonBody(updateSuiteBody) },
        responses: { 200: jsonResponse(suite, 'Updated'), ...errorResponses },
      }),
      async (c) => {
        const params = c.req.valid('param');
        const project = await authorizeProject(deps, c, params.project, 'write');
        const found = await findSuite(db, project.id, params.suite);
        const [row] = await db
          .update(suites)
          .set({ active: c.req.valid('json').active })
          .where(eq(suites.id, found.id))
          .returning();
        return c.json((await presentSuites(db, [row!]))[0]!, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/suites/{suite}/versions',
        tags,
        security: bearerSecurity,
        summary:
          'Freeze a suite version (eval cases, metrics, decoding); the base model is scored on it',
        request: { params: suiteParam, body: jsonBody(createSuiteVersionBody) },
        responses: {
          201: jsonResponse(suiteVersion, 'Created'),
          200: jsonResponse(suiteVersion, 'The newest version already is exactly this'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const params = c.req.valid('param');
        const project = await authorizeProject(deps, c, params.project, 'write');
        const s = await findSuite(db, project.id, params.suite);
        const { version, created } = await addSuiteVersion(db, s, c.req.valid('json'));
        // The base model is evaluated once per suite version: every later comparison needs it.
        if (s.active)
          await enqueueEvaluations(
            db,
            deps.queue,
            [await builtinCheckpoint(db, project.id)],
            [version],
          );
        const [presented] = (await presentSuites(db, [s]))[0]!.versions.filter(
          (v) => v.id === version.id,
        );
        return c.json(presented!, created ? 201 : 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/checkpoints/{checkpointId}/evaluations',
        tags,
        security: bearerSecurity,
        request: { params: checkpointParam },
        responses: {
          200: jsonResponse(z.object({ evaluations: z.array(evaluation) }), 'Newest first'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const checkpoint = await findCheckpoint(db, c.req.valid('param').checkpointId);
        authorize(c.get('principal'), checkpoint.projectId, 'read', publicRead);
        const rows = await db
          .select()
          .from(evaluations)
          .where(eq(evaluations.checkpointId, checkpoint.id))
          .orderBy(desc(evaluations.createdAt))
          .limit(1000);
        return c.json({ evaluations: await presentEvaluations(db, rows) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/checkpoints/{checkpointId}/findings',
        tags,
        security: bearerSecurity,
        summary: "What the detectors found about a checkpoint (and its run's findings)",
        request: { params: checkpointParam },
        responses: {
          200: jsonResponse(z.object({ findings: z.array(finding) }), 'Newest first'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const checkpoint = await findCheckpoint(db, c.req.valid('param').checkpointId);
        authorize(c.get('principal'), checkpoint.projectId, 'read', publicRead);
        const rows = await db
          .select()
          .from(findings)
          .where(
            or(
              eq(findings.checkpointId, checkpoint.id),
              // A run's own findings (overfitting) concern every checkpoint it wrote.
              checkpoint.runId
                ? and(eq(findings.runId, checkpoint.runId), isNull(findings.checkpointId))
                : undefined,
            ),
          )
          .orderBy(desc(findings.createdAt))
          .limit(1000);
        return c.json(
          {
            findings: rows.map((f) => ({
              id: f.id,
              detector: f.detector,
              severity: f.severity,
              summary: f.summary,
              evidence: f.evidence as Record<string, unknown>,
              createdAt: f.createdAt.toISOString(),
            })),
          },
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/evaluations/{evaluationId}',
        tags,
        security: bearerSecurity,
        request: { params: evaluationParam },
        responses: { 200: jsonResponse(evaluation, 'The evaluation'), ...errorResponses },
      }),
      async (c) => {
        const [row] = await db
          .select()
          .from(evaluations)
          .where(eq(evaluations.id, c.req.valid('param').evaluationId));
        if (!row) throw notFound(`evaluation ${c.req.valid('param').evaluationId}`);
        authorize(c.get('principal'), row.projectId, 'read', publicRead);
        return c.json((await presentEvaluations(db, [row]))[0]!, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/evaluations/{evaluationId}/results',
        tags,
        security: bearerSecurity,
        summary: "A worker's per-case outputs and scores of an evaluation it holds",
        request: { params: evaluationParam, body: jsonBody(evaluationResultsBody) },
        responses: {
          200: jsonResponse(z.object({}), 'Stored; detectors have run'),
          ...errorResponses,
        },
      }),
      async (c) => {
        authorizeWorker(c);
        const { evaluationId } = c.req.valid('param');
        const body = c.req.valid('json');
        const [held] = await db
          .select({ id: jobs.id })
          .from(jobs)
          .where(
            and(
              eq(jobs.evaluationId, evaluationId),
              eq(jobs.status, 'running'),
              eq(jobs.workerId, body.workerId),
            ),
          );
        if (!held)
          throw new AppError(
            409,
            'conflict',
            `workerId: evaluation ${evaluationId} is not running on ${body.workerId}`,
          );
        await recordEvaluation(db, store, evaluationId, body);
        return c.json({}, 200);
      },
    );
}
