import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../http/errors.ts';
import type { AppDeps } from '../http/env.ts';
import { bearerSecurity, createRouter, errorResponses, jsonResponse } from '../http/openapi.ts';
import { download, mediaType, uploadBody } from '../http/uploads.ts';
import { errorBody, projectParam } from '../schemas/common.ts';
import {
  dataset,
  datasetDetail,
  datasetParams,
  datasetVersion,
  jsonlBody,
  listDatasetsQuery,
  uploadQuery,
  versionParams,
} from '../schemas/datasets.ts';
import {
  findDataset,
  findDatasetVersion,
  listDatasets,
  presentDataset,
  presentVersion,
  presentVersionSummary,
  uploadDatasetVersion,
} from '../services/datasets.ts';
import { authorizeProject } from './access.ts';
import { storageLimits } from '../services/storage-quota.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';

const tags = ['datasets'];
const jsonl = { schema: jsonlBody };
// What a JSONL file is sent as in practice; JSON itself (one document) is refused with a hint.
const jsonlTypes = new Set([
  'application/x-ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
  'application/octet-stream',
  'text/plain',
]);

/** Immutable, content-addressed JSONL dataset versions with a cleaning report each. */
export function datasetRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const store = blobStoreFor(deps.config.dataDir);
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/datasets/{name}/versions',
        tags,
        security: bearerSecurity,
        summary: 'Upload a JSONL file as a new version (the dataset is created on first upload)',
        request: {
          params: datasetParams,
          query: uploadQuery,
          body: {
            required: true,
            description: `at most HELDOUT_MAX_DATASET_BYTES (${deps.config.HELDOUT_MAX_DATASET_BYTES}) bytes and HELDOUT_MAX_DATASET_ROWS (${deps.config.HELDOUT_MAX_DATASET_ROWS}) rows`,
            content: { 'application/x-ndjson': jsonl, 'application/octet-stream': jsonl },
          },
        },
        responses: {
          200: jsonResponse(datasetVersion, 'These bytes are already this version'),
          201: jsonResponse(datasetVersion, 'A new version'),
          415: jsonResponse(errorBody, 'The body is not sent as JSONL'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { project: key, name } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'write');
        const principal = c.get('principal');
        const type = mediaType(c);
        if (type !== undefined && !jsonlTypes.has(type)) {
          throw new AppError(
            415,
            'bad_request',
            `send the file as the raw body with Content-Type application/x-ndjson, not ${type}`,
          );
        }
        const body = uploadBody(c, deps.config.HELDOUT_MAX_DATASET_BYTES, 'a dataset');
        const result = await uploadDatasetVersion(db, store, {
          project,
          name,
          kind: c.req.valid('query').kind,
          body,
          maxRows: deps.config.HELDOUT_MAX_DATASET_ROWS,
          tokenId: principal!.tokenId,
          limits: storageLimits(deps.config),
        });
        return c.json(
          presentVersion(project, result.dataset, result.version),
          result.created ? 201 : 200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/datasets',
        tags,
        security: bearerSecurity,
        request: { params: projectParam, query: listDatasetsQuery },
        responses: {
          200: jsonResponse(z.object({ datasets: z.array(dataset) }), 'Datasets by name'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        const datasets = await listDatasets(db, project.id, c.req.valid('query').limit);
        return c.json({ datasets }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/datasets/{name}',
        tags,
        security: bearerSecurity,
        request: { params: datasetParams },
        responses: {
          200: jsonResponse(datasetDetail, 'The dataset and its versions, newest first'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { project: key, name } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'read');
        const found = await findDataset(db, project.id, name);
        return c.json(
          {
            ...presentDataset(found.dataset, found.versions[0]?.version ?? null),
            versions: found.versions.map(presentVersionSummary),
          },
          200,
        );
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/datasets/{name}/versions/{version}',
        tags,
        security: bearerSecurity,
        request: { params: versionParams },
        responses: {
          200: jsonResponse(datasetVersion, 'The version with its cleaning report'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { project: key, name, version } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'read');
        const found = await findDatasetVersion(db, project.id, name, version);
        return c.json(presentVersion(project, found.dataset, found.version), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/projects/{project}/datasets/{name}/versions/{version}/content',
        tags,
        security: bearerSecurity,
        summary: 'Download the JSONL file of a version, byte for byte as uploaded',
        request: { params: versionParams },
        responses: {
          200: {
            description: 'The bytes; ETag is the quoted sha256',
            content: { 'application/octet-stream': jsonl },
          },
          304: { description: 'If-None-Match matched the ETag' },
          ...errorResponses,
        },
      }),
      async (c) => {
        const { project: key, name, version } = c.req.valid('param');
        const project = await authorizeProject(deps, c, key, 'read');
        const found = await findDatasetVersion(db, project.id, name, version);
        return download(c, () => store.open(found.version.storageKey), {
          filename: `${found.dataset.name}-v${found.version.version}.jsonl`,
          sha256: found.version.sha256,
          sizeBytes: found.version.sizeBytes,
        });
      },
    );
}
