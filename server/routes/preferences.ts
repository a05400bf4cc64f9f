import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { AppError } from '../http/errors.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { projectParam } from '../schemas/common.ts';
import { datasetVersion } from '../schemas/datasets.ts';
import {
  cutPreferencesBody,
  listPreferencesQuery,
  preference,
  recordPreferenceBody,
} from '../schemas/preferences.ts';
import { presentVersion } from '../services/datasets.ts';
import {
  cutPreferenceDataset,
  listPreferences,
  presentPreference,
  recordPreference,
} from '../services/preferences.ts';
import { actingAs } from '../services/identity.ts';
import { storageLimits } from '../services/storage-quota.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';
import { authorizeProject } from './access.ts';

const tags = ['preferences'];

const pageAfter = (token: string | undefined) => {
  if (token === undefined) return undefined;
  const after = Number(Buffer.from(token, 'base64url').toString());
  if (!Number.isSafeInteger(after))
    throw new AppError(400, 'bad_request', 'pageToken: not a token this server gave');
  return after;
};

/** Human rankings of model responses, and preference dataset versions cut from them. */
export function preferenceRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const store = blobStoreFor(deps.config.dataDir);
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/preferences',
        tags,
        security: bearerSecurity,
        summary: 'Record who ranked which responses to a prompt (best first)',
        request: { body: jsonBody(recordPreferenceBody) },
        responses: { 201: jsonResponse(preference, 'Recorded'), ...errorResponses },
      }),
      async (c) => {
        const body = c.req.valid('json');
        const project = await authorizeProject(deps, c, body.project, 'write');
        const principal = c.get('principal')!;
        const row = await recordPreference(db, {
          projectId: project.id,
          prompt: body.prompt,
          responses: body.responses ?? [body.chosen!, body.rejected!],
          annotator: await actingAs(db, principal, body.annotator, 'rank'),
          tokenId: principal.tokenId,
        });
        return c.json(presentPreference(row), 201);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/preferences',
        tags,
        security: bearerSecurity,
        request: { params: projectParam, query: listPreferencesQuery },
        responses: {
          200: jsonResponse(
            z.object({ preferences: z.array(preference), nextPageToken: z.string().nullable() }),
            'Oldest first',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        const q = c.req.valid('query');
        const { rows, next } = await listPreferences(db, project.id, {
          limit: q.limit,
          after: pageAfter(q.pageToken),
        });
        return c.json(
          {
            preferences: rows.map(presentPreference),
            nextPageToken: next === null ? null : Buffer.from(String(next)).toString('base64url'),
          },
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/preferences/dataset',
        tags,
        security: bearerSecurity,
        summary: 'Cut a preference dataset version from every ranking recorded so far',
        request: { params: projectParam, body: jsonBody(cutPreferencesBody) },
        responses: {
          200: jsonResponse(datasetVersion, 'No new rankings: the existing version'),
          201: jsonResponse(datasetVersion, 'A new version'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'write');
        const result = await cutPreferenceDataset(db, store, {
          project,
          name: c.req.valid('json').dataset,
          maxRows: deps.config.HELDOUT_MAX_DATASET_ROWS,
          tokenId: c.get('principal')!.tokenId,
          limits: storageLimits(deps.config),
        });
        return c.json(
          presentVersion(project, result.dataset, result.version),
          result.created ? 201 : 200,
        );
      },
    );
}
