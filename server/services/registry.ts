import { and, asc, desc, eq, inArray, isNull, max, sql } from 'drizzle-orm';
import { alias as aliasTable } from 'drizzle-orm/pg-core';
import type { Db } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import {
  checkpoints,
  modelAliases,
  modelVersions,
  models,
  projects,
  promotions,
  verdicts,
} from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { Alias, Model, ModelVersion, Promotion } from '../schemas/registry.ts';
import { aliasIsProtected, protectionOf } from './alias-protection.ts';
import type { Principal } from './principal.ts';

export type ModelRow = typeof models.$inferSelect;
export type ModelVersionRow = typeof modelVersions.$inferSelect;
type AliasRow = typeof modelAliases.$inferSelect;
/** A transaction or the database: alias moves run inside the promotion's transaction. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0] | Db;

/** The projects a caller may see, by name: a scoped token's one project, else every live project. */
export function visibleProjects(db: Db, principal: Principal | undefined) {
  return db
    .select({ id: projects.id, name: projects.name })
    .from(projects)
    .where(
      and(
        isNull(projects.deletedAt),
        principal?.projectId ? eq(projects.id, principal.projectId) : undefined,
      ),
    )
    .orderBy(asc(projects.name));
}

/**
 * The models called `name` in the `visible` projects, or only in the one `project` names (by name
 * or id): names that are global to a client (MLflow's, `/v1`'s) are unique per project only here.
 *
 * @example
 * const found = await modelsNamed(db, await visibleProjects(db, principal), 'assistant', 'bank');
 */
export async function modelsNamed(
  db: Db,
  visible: { id: number; name: string }[],
  name: string,
  project?: string,
): Promise<ModelRow[]> {
  const ids = visible
    .filter((p) => project === undefined || p.name === project || String(p.id) === project)
    .map((p) => p.id);
  if (!ids.length) return [];
  return db
    .select()
    .from(models)
    .where(and(eq(models.name, name), inArray(models.projectId, ids)));
}

/**
 * Names the body field behind a lookup that came back 404, so the message says which part of
 * the request named something that does not exist (`model: model "bot" not found`).
 */
export async function named<T>(field: string, lookup: Promise<T>): Promise<T> {
  try {
    return await lookup;
  } catch (err) {
    if (err instanceof AppError && err.status === 404)
      throw new AppError(404, 'not_found', `${field}: ${err.message}`, err.details, { cause: err });
    throw err;
  }
}

export const presentModel = (m: ModelRow): Model => ({
  id: m.id,
  projectId: m.projectId,
  name: m.name,
  description: m.description,
  createdAt: m.createdAt.toISOString(),
});

export const presentVersion = (v: ModelVersionRow): ModelVersion => ({
  id: v.id,
  version: v.version,
  checkpointId: v.checkpointId,
  runId: v.runId,
  description: v.description,
  createdAt: v.createdAt.toISOString(),
});

const presentAlias = (
  model: ModelRow,
  a: AliasRow,
  v: ModelVersionRow,
  isProtected: boolean,
): Alias => ({
  model: model.name,
  alias: a.alias,
  version: v.version,
  checkpointId: v.checkpointId,
  protected: isProtected,
  updatedAt: a.updatedAt.toISOString(),
});

// An alias row with its version and the project's protection rule for its name.
const aliasColumns = {
  alias: modelAliases,
  version: modelVersions,
  protected: aliasIsProtected(modelAliases.modelId, modelAliases.alias),
};

export async function createModel(
  db: Db,
  projectId: number,
  input: { name: string; description?: string },
): Promise<ModelRow> {
  try {
    const [row] = await db
      .insert(models)
      .values({ projectId, name: input.name, description: input.description ?? null })
      .returning();
    return row!;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError(409, 'conflict', `name: model "${input.name}" already exists`);
    throw err;
  }
}

export async function listModels(db: Db, projectId: number): Promise<ModelRow[]> {
  // Unpaged, so bounded: no list endpoint answers with an unbounded number of rows.
  return db
    .select()
    .from(models)
    .where(eq(models.projectId, projectId))
    .orderBy(asc(models.name))
    .limit(10_000);
}

export async function findModel(db: Tx, projectId: number, name: string): Promise<ModelRow> {
  const [row] = await db
    .select()
    .from(models)
    .where(and(eq(models.projectId, projectId), eq(models.name, name)));
  if (!row) throw notFound(`model "${name}"`);
  return row;
}

export async function findVersion(
  db: Tx,
  model: ModelRow,
  version: number,
): Promise<ModelVersionRow> {
  const [row] = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, model.id), eq(modelVersions.version, version)));
  if (!row) throw notFound(`version ${version} of model "${model.name}"`);
  return row;
}

/** A model with its versions (oldest first) and aliases. */
export async function modelDetail(db: Db, model: ModelRow) {
  const versions = await db
    .select()
    .from(modelVersions)
    .where(eq(modelVersions.modelId, model.id))
    .orderBy(asc(modelVersions.version))
    .limit(10_000);
  const aliases = await db
    .select(aliasColumns)
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(eq(modelAliases.modelId, model.id))
    .orderBy(asc(modelAliases.alias))
    .limit(10_000);
  return {
    ...presentModel(model),
    versions: versions.map(presentVersion),
    aliases: aliases.map((r) => presentAlias(model, r.alias, r.version, r.protected)),
  };
}

/**
 * Registers a checkpoint of the project as the model's next version (1, 2, ...). The checkpoint
 * must belong to the project; a checkpoint from elsewhere is the client's mistake, a 400.
 */
export async function createVersion(
  db: Db,
  model: ModelRow,
  input: { checkpointId: string; description?: string },
): Promise<ModelVersionRow> {
  const [checkpoint] = await db
    .select({ projectId: checkpoints.projectId, runId: checkpoints.runId })
    .from(checkpoints)
    .where(eq(checkpoints.id, input.checkpointId));
  if (!checkpoint || checkpoint.projectId !== model.projectId)
    throw new AppError(
      400,
      'bad_request',
      `checkpointId: no checkpoint ${input.checkpointId} in this project`,
    );
  for (let attempt = 0; ; attempt++) {
    const [{ last } = { last: null }] = await db
      .select({ last: max(modelVersions.version) })
      .from(modelVersions)
      .where(eq(modelVersions.modelId, model.id));
    try {
      const [row] = await db
        .insert(modelVersions)
        .values({
          modelId: model.id,
          version: (last ?? 0) + 1,
          checkpointId: input.checkpointId,
          runId: checkpoint.runId,
          description: input.description ?? null,
        })
        .returning();
      return row!;
    } catch (err) {
      // Two versions registered at once: the loser takes the next number.
      if (!isUniqueViolation(err) || attempt >= 4) throw err;
    }
  }
}

/** The alias with the version it points to; undefined when it does not exist. */
export async function aliasTarget(
  db: Tx,
  model: ModelRow,
  alias: string,
): Promise<{ alias: AliasRow; version: ModelVersionRow; protected: boolean } | undefined> {
  const [row] = await db
    .select(aliasColumns)
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.modelVersionId))
    .where(and(eq(modelAliases.modelId, model.id), eq(modelAliases.alias, alias)));
  return row;
}

export async function getAlias(db: Db, model: ModelRow, alias: string): Promise<Alias> {
  const found = await aliasTarget(db, model, alias);
  if (!found) throw notFound(`alias "${alias}" of model "${model.name}"`);
  return presentAlias(model, found.alias, found.version, found.protected);
}

/**
 * Points `alias` at `to` and writes the audit row, inside `tx`. Callers hold the alias lock (see
 * `lockAlias`) and have already decided the move is allowed.
 */
export async function moveAlias(
  tx: Tx,
  input: {
    model: ModelRow;
    alias: string;
    to: ModelVersionRow;
    from?: ModelVersionRow;
    /** The rule for the alias's name once this move is done (for the answer only). */
    protected: boolean;
    verdictId: string | null;
    actorTokenId: number | null;
    reason?: string;
  },
) {
  const [aliasRow] = await tx
    .insert(modelAliases)
    .values({
      modelId: input.model.id,
      alias: input.alias,
      modelVersionId: input.to.id,
    })
    .onConflictDoUpdate({
      target: [modelAliases.modelId, modelAliases.alias],
      set: { modelVersionId: input.to.id, updatedAt: sql`now()` },
    })
    .returning();
  const [promotion] = await tx
    .insert(promotions)
    .values({
      modelId: input.model.id,
      alias: input.alias,
      fromVersionId: input.from?.id ?? null,
      toVersionId: input.to.id,
      verdictId: input.verdictId,
      actorTokenId: input.actorTokenId,
      reason: input.reason ?? null,
    })
    .returning();
  return {
    alias: presentAlias(input.model, aliasRow!, input.to, input.protected),
    promotion: promotion!,
  };
}

/** Serialises moves of one alias until the transaction ends, including its first creation. */
export async function lockAlias(tx: Tx, modelId: number, alias: string) {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended(${`alias:${modelId}:${alias}`}, 0))`,
  );
}

/**
 * Moves an unprotected alias by hand. A protected alias (or a request to protect one) is refused
 * with a 409: those move only through a promotion with a passing verdict of the alias's gate.
 */
export async function setAlias(
  db: Db,
  model: ModelRow,
  alias: string,
  input: { version: number; protected?: boolean; actorTokenId: number | null },
): Promise<Alias> {
  if (input.protected)
    throw new AppError(
      409,
      'conflict',
      'protected: an alias is protected through POST /api/v1/promotions, with a passing verdict',
    );
  return db.transaction(async (tx) => {
    await lockAlias(tx, model.id, alias);
    const to = await findVersion(tx, model, input.version);
    const current = await aliasTarget(tx, model, alias);
    if ((await protectionOf(tx, model.projectId, alias)).protected)
      throw new AppError(
        409,
        'conflict',
        `alias: "${alias}" is protected; move it with POST /api/v1/promotions and a passing verdict of its gate`,
      );
    const moved = await moveAlias(tx, {
      model,
      alias,
      to,
      from: current?.version,
      protected: false,
      verdictId: null,
      actorTokenId: input.actorTokenId,
    });
    return moved.alias;
  });
}

/** The audit trail of a model's alias moves, newest first, with each move's verdict outcome. */
export async function listPromotions(db: Db, model: ModelRow): Promise<Promotion[]> {
  const from = aliasTable(modelVersions, 'from_version');
  const to = aliasTable(modelVersions, 'to_version');
  const rows = await db
    .select({
      promotion: promotions,
      fromVersion: from.version,
      toVersion: to.version,
      verdictOutcome: verdicts.outcome,
    })
    .from(promotions)
    .innerJoin(to, eq(to.id, promotions.toVersionId))
    .leftJoin(from, eq(from.id, promotions.fromVersionId))
    .leftJoin(verdicts, eq(verdicts.id, promotions.verdictId))
    .where(eq(promotions.modelId, model.id))
    .orderBy(desc(promotions.createdAt), desc(promotions.id))
    .limit(10_000);
  return rows.map((r) =>
    presentPromotion(model, r.promotion, {
      fromVersion: r.fromVersion,
      toVersion: r.toVersion,
      verdictOutcome: r.verdictOutcome,
    }),
  );
}

export const presentPromotion = (
  model: ModelRow,
  p: typeof promotions.$inferSelect,
  joined: {
    fromVersion: number | null;
    toVersion: number;
    verdictOutcome: Promotion['verdictOutcome'];
  },
): Promotion => ({
  id: p.id,
  model: model.name,
  alias: p.alias,
  ...joined,
  verdictId: p.verdictId,
  actorTokenId: p.actorTokenId,
  reason: p.reason,
  createdAt: p.createdAt.toISOString(),
});
