import type { Context } from 'hono';
import { Hono } from 'hono';
import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { models, modelVersions } from '../db/schema/index.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { authorize } from '../services/principal.ts';
import {
  createVersion,
  visibleProjects,
  type ModelRow,
  type ModelVersionRow,
} from '../services/registry.ts';
import { MlflowError } from './errors.ts';
import { compare, exact, page, pageOffset, parseFilter, parseOrder } from './registry-search.ts';
import { transitionStage } from './registry-stages.ts';
import { checkpointForSource, parseRunId, parseSource } from './registry-sources.ts';
import { findMlflowVersion, resolveModel } from './registry-store.ts';
import { deleteVersion, updateVersion, writeTag } from './registry-writes.ts';
import { downloadUri, loadVersions, presentVersions, STAGES } from './registry-wire.ts';
import { ok, params } from './wire.ts';

const name = z.string().min(1).max(256);
const version = z.coerce
  .number('must be a version number')
  .int('must be a version number')
  .min(1, 'must be a version number')
  .max(1_000_000_000);
const tagKey = z.string().min(1).max(250);
const tagValue = z.string().max(5000);
const description = z.string().max(10_000);
const stage = z
  .string()
  .transform((s) => STAGES.find((x) => x.toLowerCase() === s.toLowerCase()))
  .pipe(z.enum(STAGES, `must be one of ${STAGES.join(', ')}`));
const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]));
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/**
 * MLflow's model-versions calls over heldout's model versions. A version is a checkpoint: see
 * `checkpointForSource` for which checkpoint a source (a run's artifacts) stands for.
 */
export function mlflowModelVersionRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const who = (c: Context<AppEnv>) => ({
    principal: c.get('principal'),
    publicRead: deps.config.HELDOUT_PUBLIC_READ,
  });
  const one = async (model: ModelRow, v: ModelVersionRow) => {
    const [joined] = await loadVersions(
      db,
      and(eq(modelVersions.modelId, model.id), eq(modelVersions.id, v.id)),
    );
    return { model_version: (await presentVersions(db, [joined!]))[0] };
  };
  const target = async (
    c: Context<AppEnv>,
    q: { name: string; version: number },
    role: 'read' | 'write',
  ) => {
    const model = await resolveModel(db, who(c), q.name, role);
    return { model, version: await findMlflowVersion(db, model, q.version) };
  };

  const search = async (c: Context<AppEnv>) => {
    const q = await params(
      c,
      z.object({
        filter: z.string().max(4000).optional(),
        max_results: z.coerce.number().int().min(1).max(10_000).default(10_000),
        order_by: list.optional(),
        page_token: z.string().max(100).optional(),
      }),
    );
    // An anonymous caller is refused unless reads are public, as experiments/search does.
    const principal = c.get('principal');
    authorize(principal, principal?.projectId ?? null, 'read', deps.config.HELDOUT_PUBLIC_READ);
    const visible = await visibleProjects(db, principal);
    const where = parseFilter(q.filter, {
      name: (op, v) => compare(models.name, op, v),
      run_id: exact(modelVersions.runId, parseRunId),
      version_number: exact(modelVersions.version, (v) => (/^\d{1,9}$/.test(v) ? Number(v) : null)),
    });
    const order = parseOrder(
      q.order_by,
      {
        name: models.name,
        version_number: modelVersions.version,
        creation_timestamp: modelVersions.createdAt,
        last_updated_timestamp: modelVersions.updatedAt,
      },
      [asc(models.name), desc(modelVersions.version)],
    );
    const offset = pageOffset(q.page_token);
    const rows =
      visible.length === 0
        ? []
        : await loadVersions(
            db,
            and(
              inArray(
                models.projectId,
                visible.map((p) => p.id),
              ),
              where,
            ),
            { order, limit: q.max_results + 1, offset },
          );
    const { rows: shown, next } = page(rows, offset, q.max_results);
    return ok(c, {
      model_versions: await presentVersions(db, shown),
      ...(next ? { next_page_token: next } : {}),
    });
  };

  return new Hono<AppEnv>()
    .post('/model-versions/create', async (c) => {
      const body = await params(
        c,
        z.object({
          name,
          source: z.string().min(1).max(2000),
          run_id: z.string().max(64).optional(),
          tags: z
            .array(z.object({ key: tagKey, value: tagValue }))
            .max(100)
            .optional(),
          run_link: z.string().optional(),
          description: description.optional(),
        }),
      );
      const model = await resolveModel(db, who(c), body.name, 'write');
      const named = parseSource(body.source, body.run_id || undefined);
      if (!named)
        throw new MlflowError(
          'INVALID_PARAMETER_VALUE',
          `Invalid value for parameter 'source': a heldout model version is a checkpoint of a run, so the source must be a run's artifacts (runs:/<run_id>/<path>, or an artifact URI of the run with run_id)`,
        );
      if (body.run_id && parseRunId(body.run_id) !== parseRunId(named.runId))
        throw new MlflowError(
          'INVALID_PARAMETER_VALUE',
          `Invalid value for parameter 'run_id': the source names run ${named.runId}, not ${body.run_id}`,
        );
      const checkpointId = await checkpointForSource(db, {
        projectId: model.projectId,
        runId: named.runId,
        path: named.path,
      });
      const created = await createVersion(db, model, {
        checkpointId,
        description: body.description,
      });
      await updateVersion(db, created, {
        source: body.source,
        tags: Object.fromEntries((body.tags ?? []).map((t) => [t.key, t.value])),
      });
      return ok(c, await one(model, created));
    })
    .get('/model-versions/get', async (c) => {
      const { model, version: v } = await target(
        c,
        await params(c, z.object({ name, version })),
        'read',
      );
      return ok(c, await one(model, v));
    })
    .patch('/model-versions/update', async (c) => {
      const body = await params(
        c,
        z.object({ name, version, description: description.optional() }),
      );
      const { model, version: v } = await target(c, body, 'write');
      if (body.description !== undefined)
        await updateVersion(db, v, { description: body.description });
      return ok(c, await one(model, v));
    })
    .delete('/model-versions/delete', async (c) => {
      const { model, version: v } = await target(
        c,
        await params(c, z.object({ name, version })),
        'write',
      );
      await deleteVersion(db, model, v);
      return ok(c);
    })
    .get('/model-versions/search', search)
    .post('/model-versions/search', search)
    .post('/model-versions/transition-stage', async (c) => {
      const body = await params(
        c,
        z.object({ name, version, stage, archive_existing_versions: flag.default(false) }),
      );
      const { model, version: v } = await target(c, body, 'write');
      await transitionStage(db, {
        model,
        version: v,
        stage: body.stage,
        archiveExisting: body.archive_existing_versions,
        principal: c.get('principal')!,
      });
      return ok(c, await one(model, v));
    })
    .get('/model-versions/get-download-uri', async (c) => {
      const { model, version: v } = await target(
        c,
        await params(c, z.object({ name, version })),
        'read',
      );
      const [joined] = await loadVersions(db, eq(modelVersions.id, v.id));
      return ok(c, { artifact_uri: downloadUri({ ...joined!, model }) });
    })
    .post('/model-versions/set-tag', async (c) => {
      const body = await params(c, z.object({ name, version, key: tagKey, value: tagValue }));
      const t = await target(c, body, 'write');
      await writeTag(db, t, body.key, body.value);
      return ok(c);
    })
    .delete('/model-versions/delete-tag', async (c) => {
      const body = await params(c, z.object({ name, version, key: tagKey }));
      const t = await target(c, body, 'write');
      await writeTag(db, t, body.key, undefined);
      return ok(c);
    });
}
