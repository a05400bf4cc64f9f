import type { Db } from '../db/client.ts';
import { AppError } from '../http/errors.ts';
import { protectionOf } from '../services/alias-protection.ts';
import type { Principal } from '../services/principal.ts';
import { promote } from '../services/promotions.ts';
import { aliasTarget, type ModelRow, type ModelVersionRow } from '../services/registry.ts';
import { MlflowError } from './errors.ts';
import { archiveOthers, dropAlias, updateVersion } from './registry-writes.ts';
import { stageAlias, STAGES, type Stage } from './registry-wire.ts';

/**
 * MLflow's stages and aliases over heldout's aliases. A stage is a version's label (the `stage`
 * column) and Staging/Production each move the heldout alias of that name in lower case, through
 * the promotion service, so the audit trail records the move and a protected alias keeps its
 * rule: MLflow's calls carry no gate, so the promotion judges the version with the gate version
 * bound to the alias, and nothing else counts. A refusal is INVALID_STATE, not PERMISSION_DENIED:
 * the token may write; what is missing is evidence about the version.
 */

const refused = (model: ModelRow, alias: string, why: string) =>
  new MlflowError(
    'INVALID_STATE',
    `alias '${alias}' of registered model '${model.name}' is protected in heldout and moves only to a version that passes its gate: ${why}`,
  );

/** Points `alias` at `version`; a protected alias needs its bound gate to pass the version. */
export async function moveAlias(
  db: Db,
  input: { model: ModelRow; version: ModelVersionRow; alias: string; principal: Principal },
) {
  const { model, version, alias } = input;
  try {
    await promote(db, {
      projectId: model.projectId,
      model: model.name,
      version: version.version,
      alias,
      reason: 'MLflow API',
      principal: input.principal,
    });
  } catch (err) {
    if (err instanceof AppError && err.status === 409) throw refused(model, alias, err.message);
    throw err;
  }
  const stage = STAGES.find((s) => stageAlias[s] === alias);
  if (stage && version.stage !== stage) await updateVersion(db, version, { stage });
}

/**
 * MLflow's transition-stage. Into Staging or Production: the alias moves first (and may be
 * refused), then the label. Out of a stage whose alias serves this version: an unprotected alias
 * is removed with it, a protected one refuses (promote another version into the stage first).
 */
export async function transitionStage(
  db: Db,
  input: {
    model: ModelRow;
    version: ModelVersionRow;
    stage: Stage;
    archiveExisting: boolean;
    principal: Principal;
  },
) {
  const { model, version, stage } = input;
  const into = stageAlias[stage];
  // The stage aliases that serve this version and would no longer: it leaves their stage.
  const leaving: string[] = [];
  for (const other of STAGES) {
    const alias = stageAlias[other];
    if (!alias || alias === into) continue;
    const serving = await aliasTarget(db, model, alias);
    if (serving?.version.id !== version.id) continue;
    if ((await protectionOf(db, model.projectId, alias)).protected)
      throw new MlflowError(
        'INVALID_STATE',
        `version ${version.version} of '${model.name}' is what the protected alias '${alias}' serves; transition another version to ${other} first`,
      );
    leaving.push(alias);
  }
  if (into) await moveAlias(db, { model, version, alias: into, principal: input.principal });
  await db.transaction(async (tx) => {
    for (const alias of leaving) await dropAlias(tx, model.id, alias);
    await updateVersion(tx, version, { stage });
    if (input.archiveExisting && into) await archiveOthers(tx, version, stage);
  });
}

/** MLflow's delete of an alias: a protected one stays (it moves only by promotion). */
export async function deleteAlias(db: Db, model: ModelRow, alias: string) {
  if ((await protectionOf(db, model.projectId, alias)).protected)
    throw new MlflowError(
      'INVALID_STATE',
      `alias '${alias}' of registered model '${model.name}' is protected in heldout; it cannot be deleted, only promoted to another version`,
    );
  await dropAlias(db, model.id, alias);
}
