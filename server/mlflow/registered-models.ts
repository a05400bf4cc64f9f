import type { Context } from 'hono';
import { Hono } from 'hono';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { models, modelVersions } from '../db/schema/index.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { projectName } from '../schemas/common.ts';
import { authorize } from '../services/principal.ts';
import { aliasTarget, createModel, visibleProjects, type ModelRow } from '../services/registry.ts';
import { MlflowError } from './errors.ts';
import { ok, params } from './wire.ts';
import { compare, page, pageOffset, parseFilter, parseOrder } from './registry-search.ts';
import { deleteAlias, moveAlias } from './registry-stages.ts';
import {
  assertNameFree,
  findMlflowVersion,
  projectForNewModel,
  projectNames,
  PROJECT_TAG,
  resolveModel,
} from './registry-store.ts';
import { deleteModel, updateModel, writeTag } from './registry-writes.ts';
import {
  latestVersions,
  loadVersions,
  presentModels,
  presentVersions,
  STAGES,
} from './registry-wire.ts';

// Names a model is created or renamed with follow heldout's rules, so /api/v1 can address it.
const newName = projectName;
const name = z.string().min(1).max(256);
const tagKey = z.string().min(1).max(250);
const tagValue = z.string().max(5000);
const tags = z.array(z.object({ key: tagKey, value: tagValue })).max(100);
const description = z.string().max(10_000);
const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]));
const stages = list.pipe(
  z.array(
    z
      .string()
      .transform((s) => STAGES.find((x) => x.toLowerCase() === s.toLowerCase()))
      .pipe(z.enum(STAGES, `must be one of ${STAGES.join(', ')}`)),
  ),
);
const versionNumber = z.coerce
  .number('must be a version number')
  .int('must be a version number')
  .min(1, 'must be a version number')
  .max(1_000_000_000);
const aliasName = projectName;

/** MLflow's registered-models calls over heldout's models (see registry-store.ts for names). */
export function mlflowRegisteredModelRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const who = (c: Context<AppEnv>) => ({
    principal: c.get('principal'),
    publicRead: deps.config.HELDOUT_PUBLIC_READ,
  });
  const present = async (rows: ModelRow[]) =>
    presentModels(
      db,
      rows,
      await projectNames(
        db,
        rows.map((m) => m.projectId),
      ),
    );
  const one = async (row: ModelRow) => ({ registered_model: (await present([row]))[0] });

  const search = async (c: Context<AppEnv>) => {
    const q = await params(
      c,
      z.object({
        filter: z.string().max(4000).optional(),
        max_results: z.coerce.number().int().min(1).max(1000).default(100),
        order_by: list.optional(),
        page_token: z.string().max(100).optional(),
      }),
    );
    // An anonymous caller is refused unless reads are public, as experiments/search does.
    const principal = c.get('principal');
    authorize(principal, principal?.projectId ?? null, 'read', deps.config.HELDOUT_PUBLIC_READ);
    const visible = await visibleProjects(db, principal);
    const where = parseFilter(q.filter, { name: (op, v) => compare(models.name, op, v) });
    const order = parseOrder(
      q.order_by,
      {
        name: models.name,
        timestamp: models.updatedAt,
        last_updated_timestamp: models.updatedAt,
        creation_timestamp: models.createdAt,
      },
      [asc(models.name), asc(models.id)],
    );
    const offset = pageOffset(q.page_token);
    const rows =
      visible.length === 0
        ? []
        : await db
            .select()
            .from(models)
            .where(
              and(
                inArray(
                  models.projectId,
                  visible.map((p) => p.id),
                ),
                where,
              ),
            )
            .orderBy(...order)
            .limit(q.max_results + 1)
            .offset(offset);
    const { rows: shown, next } = page(rows, offset, q.max_results);
    return ok(c, {
      registered_models: await present(shown),
      ...(next ? { next_page_token: next } : {}),
    });
  };

  const latest = async (c: Context<AppEnv>) => {
    const q = await params(c, z.object({ name, stages: stages.optional() }));
    const model = await resolveModel(db, who(c), q.name, 'read');
    const joined = await latestVersions(db, [model.id], q.stages?.length ? q.stages : STAGES);
    return ok(c, { model_versions: await presentVersions(db, joined) });
  };

  return new Hono<AppEnv>()
    .post('/registered-models/create', async (c) => {
      const body = await params(
        c,
        z.object({ name: newName, tags: tags.optional(), description: description.optional() }),
      );
      const given = body.tags ?? [];
      const project = await projectForNewModel(
        db,
        c.get('principal'),
        given.find((t) => t.key === PROJECT_TAG)?.value,
      );
      authorize(c.get('principal'), project.id, 'write');
      await assertNameFree(db, c.get('principal'), body.name);
      const created = await createModel(db, project.id, body);
      const stored = Object.fromEntries(
        given.filter((t) => t.key !== PROJECT_TAG).map((t) => [t.key, t.value]),
      );
      return ok(c, await one(await updateModel(db, created, { tags: stored })));
    })
    .get('/registered-models/get', async (c) => {
      const q = await params(c, z.object({ name }));
      return ok(c, await one(await resolveModel(db, who(c), q.name, 'read')));
    })
    .post('/registered-models/rename', async (c) => {
      const body = await params(c, z.object({ name, new_name: newName }));
      const model = await resolveModel(db, who(c), body.name, 'write');
      if (body.new_name !== model.name) await assertNameFree(db, c.get('principal'), body.new_name);
      return ok(c, await one(await updateModel(db, model, { name: body.new_name })));
    })
    .patch('/registered-models/update', async (c) => {
      const body = await params(c, z.object({ name, description: description.optional() }));
      const model = await resolveModel(db, who(c), body.name, 'write');
      return ok(c, await one(await updateModel(db, model, { description: body.description })));
    })
    .delete('/registered-models/delete', async (c) => {
      const body = await params(c, z.object({ name }));
      await deleteModel(db, await resolveModel(db, who(c), body.name, 'write'));
      return ok(c);
    })
    .get('/registered-models/search', search)
    .post('/registered-models/search', search)
    .get('/registered-models/get-latest-versions', latest)
    .post('/registered-models/get-latest-versions', latest)
    .post('/registered-models/set-tag', async (c) => {
      const body = await params(c, z.object({ name, key: tagKey, value: tagValue }));
      const model = await resolveModel(db, who(c), body.name, 'write');
      if (body.key === PROJECT_TAG)
        throw new MlflowError(
          'INVALID_PARAMETER_VALUE',
          `Invalid value for parameter 'key': ${PROJECT_TAG} names the model's heldout project and cannot be changed`,
        );
      await writeTag(db, { model }, body.key, body.value);
      return ok(c);
    })
    .delete('/registered-models/delete-tag', async (c) => {
      const body = await params(c, z.object({ name, key: tagKey }));
      const model = await resolveModel(db, who(c), body.name, 'write');
      await writeTag(db, { model }, body.key, undefined);
      return ok(c);
    })
    .post('/registered-models/alias', async (c) => {
      const body = await params(c, z.object({ name, alias: aliasName, version: versionNumber }));
      const model = await resolveModel(db, who(c), body.name, 'write');
      const version = await findMlflowVersion(db, model, body.version);
      await moveAlias(db, { model, version, alias: body.alias, principal: c.get('principal')! });
      return ok(c);
    })
    .get('/registered-models/alias', async (c) => {
      const q = await params(c, z.object({ name, alias: z.string().min(1).max(256) }));
      const model = await resolveModel(db, who(c), q.name, 'read');
      const target = await aliasTarget(db, model, q.alias);
      if (!target)
        throw new MlflowError(
          'RESOURCE_DOES_NOT_EXIST',
          `Registered model alias ${q.alias} not found for model ${model.name}`,
        );
      const joined = await loadVersions(db, eq(modelVersions.id, target.version.id));
      return ok(c, { model_version: (await presentVersions(db, joined))[0] });
    })
    .delete('/registered-models/alias', async (c) => {
      const body = await params(c, z.object({ name, alias: z.string().min(1).max(256) }));
      const model = await resolveModel(db, who(c), body.name, 'write');
      await deleteAlias(db, model, body.alias);
      return ok(c);
    });
}
