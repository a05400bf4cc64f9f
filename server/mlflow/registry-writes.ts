import { and, eq, isNotNull, ne, not, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { modelAliases, modelVersions, models, promotions } from '../db/schema/index.ts';
import { aliasIsProtected } from '../services/alias-protection.ts';
import type { ModelRow, ModelVersionRow, Tx } from '../services/registry.ts';
import { MlflowError } from './errors.ts';

/** The registry writes only MLflow makes: tags, stages, renames, alias removal and deletes. */

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
        not(aliasIsProtected(modelAliases.modelId, modelAliases.alias)),
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
      .where(
        and(
          eq(modelAliases.modelVersionId, version.id),
          aliasIsProtected(modelAliases.modelId, modelAliases.alias),
        ),
      )
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
      .where(
        and(
          eq(modelAliases.modelId, model.id),
          aliasIsProtected(modelAliases.modelId, modelAliases.alias),
        ),
      )
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
