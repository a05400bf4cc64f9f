import type { Db } from '../db/client.ts';
import { AppError } from '../http/errors.ts';
import type { VerdictBody } from '../schemas/registry.ts';
import { computeVerdict, findGate, findVerdict } from './gates.ts';
import {
  aliasTarget,
  findModel,
  findVersion,
  lockAlias,
  moveAlias,
  named,
  presentPromotion,
} from './registry.ts';

/** The verdict a promotion rests on: one given by id, or one computed now with a gate. */
async function verdictFor(
  db: Db,
  input: {
    projectId: number;
    model: Awaited<ReturnType<typeof findModel>>;
    version: Awaited<ReturnType<typeof findVersion>>;
    alias: string;
    gate?: string;
    verdictId?: string;
    tokenId: number | null;
  },
): Promise<{ verdict: VerdictBody; field: 'gate' | 'verdictId'; modelVersionId: number } | null> {
  if (input.gate !== undefined) {
    const gate = await named('gate', findGate(db, input.projectId, input.gate));
    const { verdict } = await computeVerdict(db, {
      gate,
      model: input.model,
      version: input.version,
      alias: input.alias,
      tokenId: input.tokenId,
    });
    return { verdict, field: 'gate', modelVersionId: input.version.id };
  }
  if (input.verdictId === undefined) return null;
  const found = await findVerdict(db, input.verdictId).catch((err: unknown) => {
    if (err instanceof AppError && err.status === 404) return null;
    throw err;
  });
  if (!found || found.projectId !== input.projectId)
    throw new AppError(
      400,
      'bad_request',
      `verdictId: no verdict ${input.verdictId} in this project`,
    );
  return { verdict: found.verdict, field: 'verdictId', modelVersionId: found.modelVersionId };
}

/**
 * Moves an alias to a model version in one transaction with its audit row. A protected alias (or
 * one being protected or unprotected now) moves only on a passing verdict for exactly that
 * version; a verdict that is given or computed must pass for that version even on an unprotected
 * alias. Refusals are 409s whose details carry the verdict.
 *
 * @example
 * await promote(db, { projectId, model: 'bot', version: 3, alias: 'production', gate: 'release',
 *   tokenId: principal.tokenId });
 */
export async function promote(
  db: Db,
  input: {
    projectId: number;
    model: string;
    version: number;
    alias: string;
    gate?: string;
    verdictId?: string;
    protected?: boolean;
    reason?: string;
    tokenId: number | null;
  },
) {
  const model = await named('model', findModel(db, input.projectId, input.model));
  const to = await named('version', findVersion(db, model, input.version));
  const judged = await verdictFor(db, { ...input, model, version: to });
  if (judged) {
    const { verdict, field } = judged;
    const what = field === 'gate' ? `gate "${input.gate}"` : `verdict ${verdict.id}`;
    if (judged.modelVersionId !== to.id)
      throw new AppError(
        409,
        'conflict',
        `${field}: ${what} judged version ${verdict.version} of "${verdict.model}", not version ${to.version} of "${model.name}"`,
        { verdict },
      );
    if (verdict.outcome !== 'pass')
      throw new AppError(
        409,
        'conflict',
        `${field}: ${what} says ${verdict.outcome} for version ${to.version} of "${model.name}"; "${input.alias}" was not moved`,
        { verdict },
      );
  }
  return db.transaction(async (tx) => {
    await lockAlias(tx, model.id, input.alias);
    const current = await aliasTarget(tx, model, input.alias);
    const wasProtected = current?.alias.protected ?? false;
    if ((wasProtected || input.protected === true) && !judged)
      throw new AppError(
        409,
        'conflict',
        `alias: "${input.alias}" ${wasProtected ? 'is' : 'would be'} protected: moving it to version ${to.version} needs a passing verdict for that version (give gate or verdictId)`,
        { verdict: null },
      );
    const moved = await moveAlias(tx, {
      model,
      alias: input.alias,
      to,
      from: current?.version,
      protected: input.protected ?? wasProtected,
      verdictId: judged?.verdict.id ?? null,
      actorTokenId: input.tokenId,
      reason: input.reason,
    });
    return {
      promotion: presentPromotion(model, moved.promotion, {
        fromVersion: current?.version.version ?? null,
        toVersion: to.version,
        verdictOutcome: judged?.verdict.outcome ?? null,
      }),
      alias: moved.alias,
      verdict: judged?.verdict ?? null,
    };
  });
}
