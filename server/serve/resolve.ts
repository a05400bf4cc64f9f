/**
 * Which model version a `/v1` model name means, looked up on every request: when an alias moves,
 * the next request is served by the version it points to now, without a restart.
 *
 * The rule: `<model>@<alias>` or `<model>/<version>`, optionally after `<project>/` (its name or
 * id). A token scoped to a project sees that project's models only; a token that covers every
 * project may leave the project out when exactly one project has a model of that name.
 */
import { asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { checkpoints, modelAliases, modelVersions, models } from '../db/schema/index.ts';
import type { Principal } from '../services/principal.ts';
import {
  aliasTarget,
  findVersion,
  modelsNamed,
  visibleProjects,
  type ModelRow,
  type ModelVersionRow,
} from '../services/registry.ts';
import { AppError } from '../http/errors.ts';
import { OpenAiError } from './errors.ts';

export interface ServedVersion {
  project: { id: number; name: string };
  model: ModelRow;
  version: ModelVersionRow;
  checkpoint: typeof checkpoints.$inferSelect;
  /** `<model>/<version>`, with `<project>/` in front for a token that covers every project. */
  id: string;
}

const NAME = '[A-Za-z][A-Za-z0-9._-]{0,99}';
// The project part is everything before the model's slash: MLflow's experiment names, which
// become project names, may hold slashes themselves; model and alias names never do.
const MODEL_NAME = new RegExp(`^(?:(.+)/)?(${NAME})(?:@(${NAME})|/(\\d{1,10}))$`);

/**
 * Splits a model name by the rule above; undefined when it follows neither form.
 *
 * @example
 * parseModelName('bank/legal-assistant@production');
 * // { project: 'bank', model: 'legal-assistant', alias: 'production' }
 */
export function parseModelName(name: string) {
  const m = MODEL_NAME.exec(name);
  if (!m) return undefined;
  return {
    project: m[1],
    model: m[2]!,
    alias: m[3],
    version: m[4] === undefined ? undefined : Number(m[4]),
  };
}

const notFound = (name: string, hint = '') =>
  new OpenAiError(
    404,
    `The model \`${name}\` does not exist or you do not have access to it.${hint}`,
    { param: 'model', code: 'model_not_found' },
  );

/**
 * The version `name` resolves to for `principal`, with its checkpoint. Unknown names, and names
 * in projects the token cannot see, are the same 404 (`model_not_found`).
 *
 * @example
 * const served = await resolveServedModel(db, principal, 'legal-assistant@production');
 */
export async function resolveServedModel(
  db: Db,
  principal: Principal,
  name: string,
): Promise<ServedVersion> {
  const parsed = parseModelName(name);
  if (!parsed)
    throw notFound(
      name,
      ' Name a version as `<model>@<alias>` or `<model>/<version>`, with `<project>/` in front when several projects have the model.',
    );
  const visible = await visibleProjects(db, principal);
  const found = await modelsNamed(db, visible, parsed.model, parsed.project);
  if (found.length === 0) throw notFound(name);
  if (found.length > 1) {
    const where = found.map((f) => visible.find((p) => p.id === f.projectId)!.name).sort();
    throw new OpenAiError(
      400,
      `model: several projects have a model "${parsed.model}" (${where.join(', ')}); name one as \`<project>/${name}\``,
      { param: 'model', code: 'model_ambiguous' },
    );
  }
  const model = found[0]!;
  const project = visible.find((p) => p.id === model.projectId)!;
  let version: ModelVersionRow;
  if (parsed.alias !== undefined) {
    const target = await aliasTarget(db, model, parsed.alias);
    if (!target) throw notFound(name);
    version = target.version;
  } else {
    version = await findVersion(db, model, parsed.version!).catch((err: unknown) => {
      throw err instanceof AppError && err.status === 404 ? notFound(name) : err;
    });
  }
  const [checkpoint] = await db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.id, version.checkpointId));
  if (!checkpoint) throw notFound(name);
  const prefix = principal.projectId === null ? `${project.name}/` : '';
  return { project, model, version, checkpoint, id: `${prefix}${model.name}/${version.version}` };
}

/** OpenAI's model object. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

const LIST_LIMIT = 10_000;

/**
 * What `GET /v1/models` lists: every alias and every version of the models the token sees, as
 * names it can send back (`<project>/` in front for a token that covers every project), aliases
 * first; at most 10000.
 */
export async function listServedModels(db: Db, principal: Principal): Promise<ModelObject[]> {
  const visible = await visibleProjects(db, principal);
  if (!visible.length) return [];
  const ids = visible.map((p) => p.id);
  const projectName = new Map(visible.map((p) => [p.id, p.name]));
  const prefix = (projectId: number) =>
    principal.projectId === null ? `${projectName.get(projectId)}/` : '';
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  const aliases = await db
    .select({
      projectId: models.projectId,
      model: models.name,
      alias: modelAliases.alias,
      updatedAt: modelAliases.updatedAt,
    })
    .from(modelAliases)
    .innerJoin(models, eq(models.id, modelAliases.modelId))
    .where(inArray(models.projectId, ids))
    .orderBy(asc(models.projectId), asc(models.name), asc(modelAliases.alias))
    .limit(LIST_LIMIT);
  const versions = await db
    .select({
      projectId: models.projectId,
      model: models.name,
      version: modelVersions.version,
      createdAt: modelVersions.createdAt,
    })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(inArray(models.projectId, ids))
    .orderBy(asc(models.projectId), asc(models.name), asc(modelVersions.version))
    .limit(LIST_LIMIT);
  return [
    ...aliases.map((a) => ({
      id: `${prefix(a.projectId)}${a.model}@${a.alias}`,
      object: 'model' as const,
      created: seconds(a.updatedAt),
      owned_by: projectName.get(a.projectId)!,
    })),
    ...versions.map((v) => ({
      id: `${prefix(v.projectId)}${v.model}/${v.version}`,
      object: 'model' as const,
      created: seconds(v.createdAt),
      owned_by: projectName.get(v.projectId)!,
    })),
  ].slice(0, LIST_LIMIT);
}
