import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { projectParam, runParam } from '../schemas/common.ts';
import {
  createRunBody,
  key,
  paramsRecord,
  run,
  searchRunsBody,
  tagsRecord,
  updateRunBody,
} from '../schemas/runs.ts';
import { cancelRunJobs, enqueueWaiting } from '../services/jobs.ts';
import { searchRunIds } from '../services/run-search.ts';
import {
  createRun,
  submitInfo,
  modelRefs,
  type ModelRefs,
  deleteTag,
  findRuns,
  getRun,
  logParams,
  presentRuns,
  setTags,
  updateRun,
} from '../services/runs.ts';
import { authorizeProject, authorizeRun } from './access.ts';

const tags = ['runs'];
const ok = z.object({ ok: z.literal(true) });

/** Runs, their params (immutable) and tags, and search over a project's runs. */
export function runRoutes(deps: AppDeps) {
  const { db, sql } = deps.database;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/runs',
        tags,
        security: bearerSecurity,
        request: { params: projectParam, body: jsonBody(createRunBody) },
        responses: { 201: jsonResponse(run, 'The new run'), ...errorResponses },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'write');
        const body = c.req.valid('json');
        let models: ModelRefs = {};
        if (body.plugin) {
          // Refused here, before a job is queued or any compute spent, with the field named.
          const [name, version] = body.plugin.split(/(?<=.)@/) as [string, string | undefined];
          const info = await submitInfo(db, project.id, body);
          const checked = await deps.plugins.validateRun(name, version, body.config, info);
          body.plugin = `${name}@${checked.plugin.manifest.version}`;
          body.config = checked.config;
          models = modelRefs(checked.plugin.checkpointFields, checked.config);
        }
        const row = await createRun(db, project.id, body, c.get('principal')?.tokenId, models);
        if (body.plugin) await enqueueWaiting(db, deps.queue, row.id);
        return c.json(await getRun(db, row.id), 201);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/projects/{project}/runs/search',
        tags,
        security: bearerSecurity,
        request: { params: projectParam, body: jsonBody(searchRunsBody) },
        responses: {
          200: jsonResponse(
            z.object({ runs: z.array(run), nextPageToken: z.string().nullable() }),
            'One page of matching runs',
          ),
          ...errorResponses,
        },
      }),
      async (c) => {
        const project = await authorizeProject(deps, c, c.req.valid('param').project, 'read');
        const { ids, nextPageToken } = await searchRunIds(sql, project.id, c.req.valid('json'));
        return c.json({ runs: await presentRuns(db, await findRuns(db, ids)), nextPageToken }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/runs/{runId}',
        tags,
        security: bearerSecurity,
        request: { params: runParam },
        responses: {
          200: jsonResponse(run, 'The run with params, tags and latest metrics'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'read');
        return c.json(await getRun(db, runId), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'patch',
        path: '/runs/{runId}',
        tags,
        security: bearerSecurity,
        request: { params: runParam, body: jsonBody(updateRunBody) },
        responses: { 200: jsonResponse(run, 'The updated run'), ...errorResponses },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'write');
        const patch = c.req.valid('json');
        await updateRun(db, runId, patch);
        // A trainer's process hears of it at its next heartbeat and is stopped within seconds.
        if (patch.status === 'cancelled') await cancelRunJobs(db, deps.queue, runId);
        return c.json(await getRun(db, runId), 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/runs/{runId}/params',
        tags,
        security: bearerSecurity,
        request: {
          params: runParam,
          body: jsonBody(z.object({ params: paramsRecord }).openapi('LogParams')),
        },
        responses: {
          200: jsonResponse(ok, 'Stored (or already stored with the same values)'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'write');
        await logParams(db, runId, c.req.valid('json').params);
        return c.json({ ok: true as const }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'put',
        path: '/runs/{runId}/tags',
        tags,
        security: bearerSecurity,
        request: {
          params: runParam,
          body: jsonBody(z.object({ tags: tagsRecord }).openapi('SetTags')),
        },
        responses: { 200: jsonResponse(ok, 'Set; other tags are kept'), ...errorResponses },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'write');
        await setTags(db, runId, c.req.valid('json').tags);
        return c.json({ ok: true as const }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'delete',
        path: '/runs/{runId}/tags',
        tags,
        security: bearerSecurity,
        request: {
          params: runParam,
          query: z.object({ key: key.openapi({ param: { name: 'key', in: 'query' } }) }),
        },
        responses: { 200: jsonResponse(ok, 'Deleted'), ...errorResponses },
      }),
      async (c) => {
        const { runId } = c.req.valid('param');
        await authorizeRun(deps, c, runId, 'write');
        await deleteTag(db, runId, c.req.valid('query').key);
        return c.json({ ok: true as const }, 200);
      },
    );
}
