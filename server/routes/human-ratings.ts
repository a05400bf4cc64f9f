import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { projectParam } from '../schemas/common.ts';
import {
  caseRating,
  deleteRatingQuery,
  ratingParam,
  ratingPreferencesBody,
  ratingPreferencesResult,
  rateCaseBody,
} from '../schemas/human-ratings.ts';
import { evaluationSubjects } from '../services/evaluation-views.ts';
import { deleteRating, rateCase } from '../services/human-ratings.ts';
import { actingAs } from '../services/identity.ts';
import { authorize } from '../services/principal.ts';
import { preferencesFromRatings } from '../services/rating-preferences.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';
import { authorizeProject } from './access.ts';

const tags = ['human-ratings'];
const path = '/evaluations/{evaluationId}/cases/{caseId}/rating';

/** Human 1-5 ratings of evaluation outputs, and preference pairs made from them. */
export function humanRatingRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const store = blobStoreFor(deps.config.dataDir);

  /** Authorises a write on the evaluation's project and names the annotator: the token's own. */
  async function writer(c: Context<AppEnv>, evaluationId: string, annotator?: string) {
    const [subject] = await evaluationSubjects(db, [evaluationId]);
    const principal = c.get('principal');
    authorize(principal, subject!.projectId, 'write');
    return actingAs(db, principal!, annotator, 'rate');
  }

  return createRouter()
    .openapi(
      createRoute({
        method: 'put',
        path,
        tags,
        security: bearerSecurity,
        summary: "Rate a case's output 1-5 (replacing this annotator's earlier rating)",
        request: { params: ratingParam, body: jsonBody(rateCaseBody) },
        responses: {
          200: jsonResponse(caseRating, 'Stored; aggregate updated'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { evaluationId, caseId } = c.req.valid('param');
        const body = c.req.valid('json');
        const annotator = await writer(c, evaluationId, body.annotator);
        return c.json(
          await rateCase(db, { evaluationId, caseId, annotator, rating: body.rating }),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'delete',
        path,
        tags,
        security: bearerSecurity,
        summary: "Remove an annotator's rating of a case",
        request: { params: ratingParam, query: deleteRatingQuery },
        responses: {
          200: jsonResponse(caseRating, 'Removed; aggregate updated'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { evaluationId, caseId } = c.req.valid('param');
        const annotator = await writer(c, evaluationId, c.req.valid('query').annotator);
        return c.json(await deleteRating(db, { evaluationId, caseId, annotator }), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/human-ratings/preferences',
        tags,
        security: bearerSecurity,
        summary:
          'Record preference pairs from cases rated differently on two evaluations of a suite version',
        request: { params: projectParam, body: jsonBody(ratingPreferencesBody) },
        responses: {
          200: jsonResponse(ratingPreferencesResult, 'How many pairs were recorded'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'write');
        const body = c.req.valid('json');
        const result = await preferencesFromRatings(db, store, {
          projectId: project.id,
          suite: body.suite,
          suiteVersion: body.suiteVersion,
          tokenId: c.get('principal')!.tokenId,
        });
        return c.json(result, 200);
      },
    );
}
