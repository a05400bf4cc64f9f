import { createRoute } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { bearerSecurity, createRouter, errorResponses, jsonResponse } from '../http/openapi.ts';
import { download, uploadBody } from '../http/uploads.ts';
import {
  artifact,
  artifactList,
  artifactPathQuery,
  binaryBody,
  listArtifactsQuery,
} from '../schemas/artifacts.ts';
import { runParam } from '../schemas/common.ts';
import {
  findArtifact,
  listArtifacts,
  presentArtifact,
  putArtifact,
} from '../services/artifacts.ts';
import { storageLimits } from '../services/storage-quota.ts';
import { authorizeRun } from './access.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';

const tags = ['artifacts'];
const binary = { schema: binaryBody };

/** Files attached to a run: streamed in and out, content-addressed on disk, listed by path. */
export function artifactRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const store = blobStoreFor(deps.config.dataDir);
  return createRouter()
    .openapi(
      createRoute({
        method: 'put',
        path: '/runs/{runId}/artifacts',
        tags,
        security: bearerSecurity,
        summary:
          "Upload an artifact (replaces the one at the same path; a registered checkpoint's files are immutable: 409)",
        request: {
          params: runParam,
          query: artifactPathQuery,
          body: {
            required: true,
            description: `the raw bytes, at most HELDOUT_MAX_ARTIFACT_BYTES (${deps.config.HELDOUT_MAX_ARTIFACT_BYTES})`,
            content: { 'application/octet-stream': binary, '*/*': binary },
          },
        },
        responses: {
          200: jsonResponse(artifact, 'Replaced the artifact at this path'),
          201: jsonResponse(artifact, 'Created'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'write');
        const body = uploadBody(c, deps.config.HELDOUT_MAX_ARTIFACT_BYTES, 'an artifact');
        const contentType = c.req.header('content-type')?.slice(0, 200);
        const { artifact: row, created } = await putArtifact(db, store, {
          runId,
          path: c.req.valid('query').path,
          body,
          contentType,
          limits: storageLimits(deps.config),
        });
        return c.json(presentArtifact(row), created ? 201 : 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/runs/{runId}/artifacts',
        tags,
        security: bearerSecurity,
        summary: "List a run's artifacts in path order",
        request: { params: runParam, query: listArtifactsQuery },
        responses: { 200: jsonResponse(artifactList, 'A page of artifacts'), ...errorResponses },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'read');
        return c.json(await listArtifacts(db, runId, c.req.valid('query')), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/runs/{runId}/artifacts/content',
        tags,
        security: bearerSecurity,
        summary: 'Download an artifact',
        request: { params: runParam, query: artifactPathQuery },
        responses: {
          200: {
            description: 'The bytes; ETag is the quoted sha256',
            content: { 'application/octet-stream': binary },
          },
          304: { description: 'If-None-Match matched the ETag' },
          ...errorResponses,
        },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'read');
        const row = await findArtifact(db, runId, c.req.valid('query').path);
        return download(c, () => store.open(row.storageKey), {
          filename: row.path.split('/').at(-1)!,
          sha256: row.sha256,
          sizeBytes: row.sizeBytes,
        });
      },
    );
}
