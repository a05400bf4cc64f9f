import { createRoute } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { bearerSecurity, createRouter, errorResponses, jsonResponse } from '../http/openapi.ts';
import { projectParam, runParam } from '../schemas/common.ts';
import {
  casesPage,
  casesQuery,
  diffParam,
  diffQuery,
  evaluationDiff,
  evaluationParam,
  findingsPage,
  findingsQuery,
  pageQuery,
  projectEvaluationsPage,
  projectEvaluationsQuery,
  runJobsPage,
} from '../schemas/evaluation-views.ts';
import { diffEvaluations } from '../services/evaluation-diff.ts';
import {
  evaluationCasesPage,
  evaluationSubjects,
  projectEvaluations,
} from '../services/evaluation-views.ts';
import { authorize } from '../services/principal.ts';
import { listFindings, runJobs } from '../services/run-views.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';
import { authorizeProject, authorizeRun } from './access.ts';
import { humanRatingRoutes } from './human-ratings.ts';

const tags = ['evaluation views'];

/**
 * What the leaderboard UI reads beyond the leaderboard: an evaluation's cases, the diff of two
 * evaluations, findings, a run's jobs and a project's evaluations; plus human ratings.
 */
export function evaluationViewRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const publicRead = deps.config.HELDOUT_PUBLIC_READ;
  const store = blobStoreFor(deps.config.dataDir);
  return createRouter()
    .openapi(
      createRoute({
        method: 'get',
        path: '/evaluations/{evaluationId}/cases',
        tags,
        security: bearerSecurity,
        summary: 'An evaluation case by case: input, expected, output, scores, human rating',
        request: { params: evaluationParam, query: casesQuery },
        responses: { 200: jsonResponse(casesPage, 'In case id order'), ...errorResponses },
      }),
      async (c) => {
        const [subject] = await evaluationSubjects(db, [c.req.valid('param').evaluationId]);
        authorize(c.get('principal'), subject!.projectId, 'read', publicRead);
        return c.json(await evaluationCasesPage(db, store, subject!, c.req.valid('query')), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/evaluations/{a}/diff/{b}',
        tags,
        security: bearerSecurity,
        summary: 'Per-case diff of two evaluations of one suite version (b against a)',
        request: { params: diffParam, query: diffQuery },
        responses: {
          200: jsonResponse(evaluationDiff, 'Flips first, then by |delta|'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { a, b } = c.req.valid('param');
        const [sa, sb] = await evaluationSubjects(db, [a, b]);
        authorize(c.get('principal'), sa!.projectId, 'read', publicRead);
        const diff = await diffEvaluations(db, store, sa!, sb!, c.req.valid('query').limit);
        return c.json(diff, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/evaluations',
        tags,
        security: bearerSecurity,
        summary: "A project's evaluations with their checkpoints, newest first",
        request: { params: projectParam, query: projectEvaluationsQuery },
        responses: { 200: jsonResponse(projectEvaluationsPage, 'Newest first'), ...errorResponses },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        return c.json(await projectEvaluations(db, project.id, c.req.valid('query')), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/runs/{runId}/findings',
        tags,
        security: bearerSecurity,
        summary: 'What the detectors found about a run and its checkpoints',
        request: { params: runParam, query: findingsQuery },
        responses: { 200: jsonResponse(findingsPage, 'Newest first'), ...errorResponses },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'read');
        return c.json(await listFindings(db, { runId }, c.req.valid('query')), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/findings',
        tags,
        security: bearerSecurity,
        summary: 'What the detectors found across a project',
        request: { params: projectParam, query: findingsQuery },
        responses: { 200: jsonResponse(findingsPage, 'Newest first'), ...errorResponses },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        return c.json(await listFindings(db, { projectId: project.id }, c.req.valid('query')), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/runs/{runId}/jobs',
        tags,
        security: bearerSecurity,
        summary: "A run's jobs (training and its checkpoints' evaluations) as a timeline",
        request: { params: runParam, query: pageQuery },
        responses: { 200: jsonResponse(runJobsPage, 'Oldest first'), ...errorResponses },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'read');
        return c.json(await runJobs(db, runId, c.req.valid('query')), 200);
      },
    )
    .route('/', humanRatingRoutes(deps));
}
