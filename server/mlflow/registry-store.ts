import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { modelAliases, modelVersions, projects } from '../db/schema/index.ts';
import { AppError } from '../http/errors.ts';
import { aliasIsProtected } from '../services/alias-protection.ts';
import { authorize, type Principal, type Role } from '../services/principal.ts';
import { findProject } from '../services/projects.ts';
import {
  modelsNamed,
  visibleProjects,
  type ModelRow,
  type ModelVersionRow,
} from '../services/registry.ts';
import { defaultProject } from './default-project.ts';
import { MlflowError } from './errors.ts';

/**
 * The registry's lookups for the MLflow adapter: which heldout project and model an MLflow name
 * means (see registry-sources.ts for sources, registry-writes.ts for MLflow's own writes).
 */

/** The tag that names the heldout project of a registered model (shown on every model). */
export const PROJECT_TAG = 'heldout.project';
/** Where a model goes when neither the tag nor the token names a project: MLflow's own default. */

type ProjectRow = typeof projects.$inferSelect;

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
  return defaultProject(
    db,
    principal,
    `tags: name the heldout project with the tag ${PROJECT_TAG}=<project>`,
  );
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
  const found =
    slash < 0
      ? await modelsNamed(db, visible, name)
      : await modelsNamed(db, visible, name.slice(slash + 1), name.slice(0, slash));
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
  const [taken] = await modelsNamed(db, visible, name);
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

/** Aliases of a model with the version each points to, by alias name. */
export async function aliasesOf(db: Db, modelIds: number[]) {
  if (modelIds.length === 0) return [];
  return db
    .select({
      modelId: modelAliases.modelId,
      alias: modelAliases.alias,
      protected: aliasIsProtected(modelAliases.modelId, modelAliases.alias),
      versionId: modelVersions.id,
      version: modelVersions.version,
    })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(inArray(modelAliases.modelId, modelIds))
    .orderBy(asc(modelAliases.alias));
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
