import { createHash } from 'node:crypto';
import { and, asc, desc, eq, inArray, isNotNull, isNull, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import {
  artifacts,
  checkpoints,
  gates,
  modelAliases,
  modelVersions,
  models,
  projects,
  promotions,
  runs,
  verdicts,
} from '../db/schema/index.ts';
import { AppError } from '../http/errors.ts';
import { authorize, type Principal, type Role } from '../services/principal.ts';
import { createProject, findProject } from '../services/projects.ts';
import type { ModelRow, ModelVersionRow, Tx } from '../services/registry.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { MlflowError } from './errors.ts';

/**
 * The registry's database work for the MLflow adapter: which heldout model an MLflow name means,
 * which checkpoint an MLflow source means, and the MLflow-only columns (tags, stage, source).
 */

/** The tag that names the heldout project of a registered model (shown on every model). */
export const PROJECT_TAG = 'heldout.project';
/** Where a model goes when neither the tag nor the token names a project: MLflow's own default. */
export const DEFAULT_PROJECT = 'Default';

type ProjectRow = typeof projects.$inferSelect;

/** The projects the caller may see: a scoped token's one project, else every live project. */
export async function visibleProjects(db: Db, principal: Principal | undefined) {
  return db
    .select({ id: projects.id, name: projects.name })
    .from(projects)
    .where(
      and(
        isNull(projects.deletedAt),
        principal?.projectId ? eq(projects.id, principal.projectId) : undefined,
      ),
    );
}

/**
 * The project a new registered model goes to. MLflow's names are global, heldout's are per
 * project, so: the `heldout.project` tag (id or name) if the request has one; else the project a
 * scoped token belongs to; else the project "Default" (MLflow's default experiment's name), which
 * a global admin token creates on first use.
 */
export async function projectForNewModel(
  db: Db,
  principal: Principal | undefined,
  tagged: string | undefined,
): Promise<ProjectRow> {
  if (tagged !== undefined) {
    return findProject(db, tagged).catch((err: unknown) => {
      if (err instanceof AppError && err.status === 404)
        throw new MlflowError(
          'INVALID_PARAMETER_VALUE',
          `tags: ${PROJECT_TAG} names no project '${tagged}'`,
        );
      throw err;
    });
  }
  if (principal?.projectId) return findProject(db, String(principal.projectId));
  return findProject(db, DEFAULT_PROJECT).catch(async (err: unknown) => {
    if (!(err instanceof AppError && err.status === 404)) throw err;
    if (principal?.projectId !== null || principal.role !== 'admin')
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `tags: name the heldout project with the tag ${PROJECT_TAG}=<project> (there is no project '${DEFAULT_PROJECT}' to default to)`,
      );
    return createProject(db, { name: DEFAULT_PROJECT }).catch(() =>
      findProject(db, DEFAULT_PROJECT),
    );
  });
}

/**
 * The heldout model an MLflow name means, among the projects the caller can see, authorised for
 * `role`. `project/name` names one project's model outright (heldout names hold no slash).
 */
export async function resolveModel(
  db: Db,
  c: { principal: Principal | undefined; publicRead: boolean },
  name: string,
  role: Role,
): Promise<ModelRow> {
  const slash = name.indexOf('/');
  const visible = await visibleProjects(db, c.principal);
  const inProjects =
    slash < 0
      ? visible
      : visible.filter(
          (p) => p.name === name.slice(0, slash) || String(p.id) === name.slice(0, slash),
        );
  const bare = slash < 0 ? name : name.slice(slash + 1);
  const found =
    inProjects.length === 0
      ? []
      : await db
          .select()
          .from(models)
          .where(
            and(
              eq(models.name, bare),
              inArray(
                models.projectId,
                inProjects.map((p) => p.id),
              ),
            ),
          );
  if (found.length === 0)
    throw new MlflowError(
      'RESOURCE_DOES_NOT_EXIST',
      `Registered Model with name=${name} not found`,
    );
  if (found.length > 1) {
    const where = found
      .map((m) => visible.find((p) => p.id === m.projectId)!.name)
      .sort()
      .join(', ');
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `name: registered model '${name}' exists in several heldout projects (${where}); name it as '<project>/${name}' or use a token scoped to one project`,
    );
  }
  authorize(c.principal, found[0]!.projectId, role, c.publicRead);
  return found[0]!;
}

/** Refuses a name already taken in a project the caller can see (MLflow names are global). */
export async function assertNameFree(db: Db, principal: Principal | undefined, name: string) {
  const visible = await visibleProjects(db, principal);
  if (visible.length === 0) return;
  const [taken] = await db
    .select({ projectId: models.projectId })
    .from(models)
    .where(
      and(
        eq(models.name, name),
        inArray(
          models.projectId,
          visible.map((p) => p.id),
        ),
      ),
    )
    .limit(1);
  if (taken) {
    const project = visible.find((p) => p.id === taken.projectId)!.name;
    throw new MlflowError(
      'RESOURCE_ALREADY_EXISTS',
      `Registered Model (name=${name}) already exists (in heldout project '${project}')`,
    );
  }
}

export async function findMlflowVersion(
  db: Db,
  model: ModelRow,
  version: number,
): Promise<ModelVersionRow> {
  const [row] = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, model.id), eq(modelVersions.version, version)));
  if (!row)
    throw new MlflowError(
      'RESOURCE_DOES_NOT_EXIST',
      `Model Version (name=${model.name}, version=${version}) not found`,
    );
  return row;
}

export const touchModel = (db: Db, modelId: number) =>
  db
    .update(models)
    .set({ updatedAt: sql`now()` })
    .where(eq(models.id, modelId));

/** Sets (value given) or removes (value undefined) one tag of a model, or of one of its versions. */
export async function writeTag(
  db: Db,
  target: { model: ModelRow; version?: ModelVersionRow },
  key: string,
  value: string | undefined,
) {
  const change = (column: typeof models.tags | typeof modelVersions.tags) =>
    value === undefined
      ? sql`${column} - ${key}::text`
      : sql`${column} || jsonb_build_object(${key}::text, ${value}::text)`;
  if (target.version)
    await db
      .update(modelVersions)
      .set({ tags: change(modelVersions.tags), updatedAt: sql`now()` })
      .where(eq(modelVersions.id, target.version.id));
  await db
    .update(models)
    .set(
      target.version
        ? { updatedAt: sql`now()` }
        : { tags: change(models.tags), updatedAt: sql`now()` },
    )
    .where(eq(models.id, target.model.id));
}

/** The newest verdict on a version, whichever gate gave it. */
export async function newestVerdict(db: Db, versionId: number) {
  const [row] = await db
    .select({ id: verdicts.id, outcome: verdicts.outcome, gate: gates.name })
    .from(verdicts)
    .innerJoin(gates, eq(gates.id, verdicts.gateId))
    .where(eq(verdicts.modelVersionId, versionId))
    .orderBy(desc(verdicts.createdAt))
    .limit(1);
  return row;
}

/** Aliases of a model with the version each points to, by alias name. */
export async function aliasesOf(db: Db, modelIds: number[]) {
  if (modelIds.length === 0) return [];
  return db
    .select({
      modelId: modelAliases.modelId,
      alias: modelAliases.alias,
      protected: modelAliases.protected,
      versionId: modelVersions.id,
      version: modelVersions.version,
    })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(inArray(modelAliases.modelId, modelIds))
    .orderBy(asc(modelAliases.alias));
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** A run id as MLflow clients send it (with or without dashes), as heldout's UUID; else null. */
export function parseRunId(id: string): string | null {
  if (!UUID.test(id)) return null;
  const hex = id.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The run and artifact path a version's `source` names: `runs:/<run_id>/<path>`, or any artifact
 * URI of the form `.../<run_id>/artifacts/<path>` (what MLflow clients send after resolving a
 * runs:/ URI), or, with `run_id` given, the path after the last `/artifacts/`.
 */
export function parseSource(source: string, runId: string | undefined) {
  const runs = /^runs:\/+([^/]+)\/?(.*)$/.exec(source);
  if (runs) return { runId: runs[1]!, path: runs[2]! };
  const inUri = /\/([0-9a-fA-F-]{32,36})\/artifacts(?:\/(.*))?$/.exec(source);
  if (inUri && parseRunId(inUri[1]!)) return { runId: inUri[1]!, path: inUri[2] ?? '' };
  const at = source.lastIndexOf('/artifacts/');
  if (runId !== undefined && at >= 0)
    return { runId, path: source.slice(at + '/artifacts/'.length) };
  if (runId !== undefined && /\/artifacts\/?$/.test(source)) return { runId, path: '' };
  return null;
}

/**
 * The checkpoint a version registered from a run's artifacts stands for. A path that is (or lies
 * under) a checkpoint the run registered names that checkpoint; an empty path names the run's
 * newest one; any other path must hold artifacts of the run, and becomes a checkpoint row of its
 * own (once: registering the same path again finds it). Such a checkpoint's files are the run's
 * artifacts under the path; its sha256 is the hash of their list (path, sha256, size), since an
 * MLflow model is a directory of files, not one weights file. Nothing is invented: no path with
 * no files, no weights that were never uploaded.
 */
export async function checkpointForSource(
  db: Db,
  input: { projectId: number; runId: string; path: string },
): Promise<string> {
  const runId = parseRunId(input.runId);
  const [run] = runId
    ? await db
        .select()
        .from(runs)
        .where(and(eq(runs.id, runId), isNull(runs.deletedAt)))
    : [];
  if (!run || run.projectId !== input.projectId)
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `run_id: no run ${input.runId} in the registered model's heldout project (a source must be a run's artifacts)`,
    );
  const path = input.path.replace(/^\/+|\/+$/g, '');
  const own = await db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, run.id))
    .orderBy(desc(checkpoints.createdAt), desc(checkpoints.step));
  if (path === '') {
    if (own[0]) return own[0].id;
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `source: run ${input.runId} has no checkpoint; name the artifact path of the model (runs:/<run_id>/<path>)`,
    );
  }
  const named = own.find((c) => path === c.storageKey || path.startsWith(`${c.storageKey}/`));
  if (named) return named.id;
  return db.transaction(async (tx) => {
    await tx.execute(
      sql`select pg_advisory_xact_lock(hashtextextended(${`mlflow-source:${run.id}:${path}`}, 0))`,
    );
    const [again] = await tx
      .select({ id: checkpoints.id })
      .from(checkpoints)
      .where(and(eq(checkpoints.runId, run.id), eq(checkpoints.storageKey, path)));
    if (again) return again.id;
    const files = await tx
      .select()
      .from(artifacts)
      .where(and(eq(artifacts.runId, run.id), sql`starts_with(${artifacts.path}, ${path + '/'})`))
      .orderBy(asc(sql`${artifacts.path} collate "C"`));
    if (files.length === 0)
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `source: run ${input.runId} has no artifacts under '${path}'; log the model's files to the run first`,
      );
    const manifest = files.map((f) => `${f.path}\t${f.sha256}\t${f.sizeBytes}\n`).join('');
    const adapter = files.some((f) => f.path === `${path}/adapter_config.json`);
    const [row] = await tx
      .insert(checkpoints)
      .values({
        projectId: run.projectId,
        runId: run.id,
        name: path,
        kind: adapter ? 'adapter' : 'full',
        step: null,
        sha256: createHash('sha256').update(manifest).digest('hex'),
        sizeBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
        baseCheckpointId: run.baseCheckpointId,
        storageKey: path,
        modelConfig: {},
      })
      .returning({ id: checkpoints.id });
    return row!.id;
  });
}

/** Project names by id, for the `heldout.project` tag shown on models. */
export async function projectNames(db: Db, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: projects.id, name: projects.name })
    .from(projects)
    .where(inArray(projects.id, [...new Set(ids)]));
  return new Map(rows.map((p) => [p.id, p.name]));
}

/** Renames a model or changes its description or tags; a taken name is MLflow's "exists". */
export async function updateModel(
  db: Db,
  model: ModelRow,
  set: { name?: string; description?: string; tags?: Record<string, string> },
): Promise<ModelRow> {
  try {
    const [row] = await db
      .update(models)
      .set({ ...set, updatedAt: sql`now()` })
      .where(eq(models.id, model.id))
      .returning();
    return row!;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new MlflowError(
        'RESOURCE_ALREADY_EXISTS',
        `Registered Model (name=${set.name}) already exists`,
      );
    throw err;
  }
}

/** Sets a version's MLflow-only fields (and bumps its model's last update). */
export async function updateVersion(
  db: Db | Tx,
  version: ModelVersionRow,
  set: { description?: string; source?: string; tags?: Record<string, string>; stage?: string },
) {
  await db
    .update(modelVersions)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(modelVersions.id, version.id));
  await db
    .update(models)
    .set({ updatedAt: sql`now()` })
    .where(eq(models.id, version.modelId));
}

/** Moves every other version of the model in `stage` to Archived. */
export async function archiveOthers(db: Db | Tx, version: ModelVersionRow, stage: string) {
  await db
    .update(modelVersions)
    .set({ stage: 'Archived', updatedAt: sql`now()` })
    .where(
      and(
        eq(modelVersions.modelId, version.modelId),
        eq(modelVersions.stage, stage),
        ne(modelVersions.id, version.id),
      ),
    );
}

/** Removes an unprotected alias (protection is checked by the caller, under no lock: see there). */
export async function dropAlias(db: Db | Tx, modelId: number, alias: string) {
  await db
    .delete(modelAliases)
    .where(
      and(
        eq(modelAliases.modelId, modelId),
        eq(modelAliases.alias, alias),
        eq(modelAliases.protected, false),
      ),
    );
}

const keptTrail = (what: string) =>
  new MlflowError(
    'INVALID_STATE',
    `${what} was promoted on a gate verdict or is served by a protected alias; heldout keeps that audit trail, so it cannot be deleted`,
  );

/**
 * Deletes a version with its unprotected aliases and the hand-made alias moves to it. A version
 * a protected alias serves, or one promoted on a verdict, stays: that is the audit trail.
 */
export async function deleteVersion(db: Db, model: ModelRow, version: ModelVersionRow) {
  await db.transaction(async (tx) => {
    const [kept] = await tx
      .select({ n: sql<number>`1` })
      .from(modelAliases)
      .where(and(eq(modelAliases.modelVersionId, version.id), eq(modelAliases.protected, true)))
      .union(
        tx
          .select({ n: sql<number>`1` })
          .from(promotions)
          .where(and(eq(promotions.toVersionId, version.id), isNotNull(promotions.verdictId))),
      );
    if (kept) throw keptTrail(`Model Version (name=${model.name}, version=${version.version})`);
    await tx.delete(modelAliases).where(eq(modelAliases.modelVersionId, version.id));
    await tx.delete(promotions).where(eq(promotions.toVersionId, version.id));
    await tx.delete(modelVersions).where(eq(modelVersions.id, version.id));
    await tx
      .update(models)
      .set({ updatedAt: sql`now()` })
      .where(eq(models.id, model.id));
  });
}

/** Deletes a model and its versions, unless one of them is part of the audit trail. */
export async function deleteModel(db: Db, model: ModelRow) {
  await db.transaction(async (tx) => {
    const [kept] = await tx
      .select({ n: sql<number>`1` })
      .from(modelAliases)
      .where(and(eq(modelAliases.modelId, model.id), eq(modelAliases.protected, true)))
      .union(
        tx
          .select({ n: sql<number>`1` })
          .from(promotions)
          .where(and(eq(promotions.modelId, model.id), isNotNull(promotions.verdictId))),
      );
    if (kept) throw keptTrail(`Registered Model (name=${model.name})`);
    await tx.delete(modelAliases).where(eq(modelAliases.modelId, model.id));
    await tx.delete(promotions).where(eq(promotions.modelId, model.id));
    await tx.delete(modelVersions).where(eq(modelVersions.modelId, model.id));
    await tx.delete(models).where(eq(models.id, model.id));
  });
}
