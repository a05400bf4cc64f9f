import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { checkpoints } from '../db/schema/index.ts';
import { AppError } from '../http/errors.ts';
import type { AliasProtection } from '../schemas/alias-protection.ts';
import type { VerdictBody } from '../schemas/registry.ts';
import { protectionOf, requireAdmin, setProtection } from './alias-protection.ts';
import { computeVerdict, findGate, findVerdict, savedByAdmin } from './gates.ts';
import type { Principal } from './principal.ts';
import {
  aliasTarget,
  findModel,
  findVersion,
  lockAlias,
  moveAlias,
  named,
  presentPromotion,
  type ModelRow,
  type ModelVersionRow,
  type Tx,
} from './registry.ts';

/** A verdict with what a protected alias checks it against: its gate version and the weights. */
interface Judged {
  verdict: VerdictBody;
  field: 'gate' | 'verdictId';
  modelVersionId: number;
  gateId: number;
  checkpointSha256: string | null;
}

/**
 * The verdict a promotion rests on: one given by id, or one computed now. A protected alias with a
 * bound gate computes with exactly that gate version when the caller names no verdict (MLflow's
 * stage calls carry none), and refuses another gate by name before judging anything.
 */
async function verdictFor(
  db: Db,
  input: {
    projectId: number;
    model: ModelRow;
    version: ModelVersionRow;
    alias: string;
    rule: AliasProtection;
    gate?: string;
    verdictId?: string;
    tokenId: number | null;
  },
): Promise<Judged | null> {
  const bound = input.rule.protected ? input.rule.gate : null;
  if (bound && input.gate !== undefined && input.gate !== bound.name)
    throw new AppError(
      409,
      'conflict',
      `gate: "${input.alias}" is protected by gate "${bound.name}" v${bound.version}; a verdict of gate "${input.gate}" does not count`,
      { verdict: null, boundGate: bound },
    );
  const gateName = input.gate ?? (input.verdictId === undefined ? bound?.name : undefined);
  if (gateName !== undefined) {
    const gate = await named(
      'gate',
      findGate(db, input.projectId, gateName, bound?.name === gateName ? bound.version : undefined),
    );
    const computed = await computeVerdict(db, { ...input, gate });
    return {
      verdict: computed.verdict,
      field: 'gate',
      modelVersionId: input.version.id,
      gateId: gate.id,
      checkpointSha256: computed.checkpointSha256,
    };
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
  return { ...found, field: 'verdictId' };
}

/** Refuses a verdict that does not pass for exactly this version and exactly its weights. */
function checkJudged(
  judged: Judged,
  input: { alias: string; model: ModelRow; to: ModelVersionRow; sha256: string },
) {
  const { verdict, field } = judged;
  const what = field === 'gate' ? `gate "${verdict.gate.name}"` : `verdict ${verdict.id}`;
  const { model, to } = input;
  if (judged.modelVersionId !== to.id)
    throw new AppError(
      409,
      'conflict',
      `${field}: ${what} judged version ${verdict.version} of "${verdict.model}", not version ${to.version} of "${model.name}"`,
      { verdict },
    );
  if (judged.checkpointSha256 !== input.sha256)
    throw new AppError(
      409,
      'conflict',
      `${field}: ${what} was not computed on the weights of version ${to.version} (sha256 ${input.sha256.slice(0, 12)}); judge the version again`,
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

/**
 * Refuses a move of a protected alias that its bound gate version did not pass. With no gate bound
 * yet, the passing verdict's gate becomes the alias's gate only if an admin saved that gate
 * version: a gate a write token wrote (or loosened) for itself never protects anything, even when
 * an admin's pipeline is the one promoting (it names a gate, not a version).
 */
async function checkProtected(
  tx: Tx,
  rule: AliasProtection,
  judged: Judged | null,
  input: { alias: string; to: number },
) {
  const { alias, to } = input;
  if (!judged)
    throw new AppError(
      409,
      'conflict',
      rule.gate
        ? `alias: "${alias}" is protected by gate "${rule.gate.name}" v${rule.gate.version}: moving it to version ${to} needs that gate's passing verdict (give gate "${rule.gate.name}" or leave gate out)`
        : `alias: "${alias}" is protected and no gate is bound to it yet: promote with a gate an admin saved (the first passing promotion binds it) or ask an admin to bind one (PUT /api/v1/projects/{project}/protected-aliases/${alias})`,
      { verdict: null },
    );
  if (!rule.gate && !(await savedByAdmin(tx, judged.gateId)))
    throw new AppError(
      409,
      'conflict',
      `${judged.field}: "${alias}" is protected and no gate is bound to it yet; gate "${judged.verdict.gate.name}" v${judged.verdict.gate.version} was not saved by an admin, so it cannot become the alias's gate (an admin saves the release gate, or binds one with PUT /api/v1/projects/{project}/protected-aliases/${alias})`,
      { verdict: judged.verdict },
    );
  if (rule.gate && judged.gateId !== rule.gate.id)
    throw new AppError(
      409,
      'conflict',
      `${judged.field}: "${alias}" is protected by gate "${rule.gate.name}" v${rule.gate.version}; a verdict of gate "${judged.verdict.gate.name}" v${judged.verdict.gate.version} does not count`,
      { verdict: judged.verdict, boundGate: rule.gate },
    );
}

/**
 * Moves an alias to a model version in one transaction with its audit row. A protected alias
 * moves only on a passing verdict of the gate version bound to it, for exactly that version and
 * its weights; the first passing promotion to a protected alias with no gate bound binds the gate
 * it passed. A verdict that is given or computed must pass even on an unprotected alias. Only an
 * admin protects or unprotects an alias here. Refusals are 409s whose details carry the verdict.
 *
 * @example
 * await promote(db, { projectId, model: 'bot', version: 3, alias: 'production', gate: 'release',
 *   principal });
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
    principal: Principal;
  },
) {
  const model = await named('model', findModel(db, input.projectId, input.model));
  const to = await named('version', findVersion(db, model, input.version));
  const tokenId = input.principal.tokenId;
  const rule = await protectionOf(db, input.projectId, input.alias);
  // Checked now, before judging anything, and again under the lock.
  const mayChange = (current: AliasProtection) => {
    if (input.protected !== undefined && input.protected !== current.protected)
      requireAdmin(
        input.principal,
        'protected',
        `${input.protected ? 'protects' : 'unprotects'} an alias`,
      );
  };
  mayChange(rule);
  const judged = await verdictFor(db, { ...input, model, version: to, rule, tokenId });
  const [weights] = await db
    .select({ sha256: checkpoints.sha256 })
    .from(checkpoints)
    .where(eq(checkpoints.id, to.checkpointId));
  if (judged) checkJudged(judged, { alias: input.alias, model, to, sha256: weights!.sha256 });
  return db.transaction(async (tx) => {
    await lockAlias(tx, model.id, input.alias);
    // Read again under the lock: an admin may have bound or re-pinned the gate meanwhile.
    const now = await protectionOf(tx, input.projectId, input.alias);
    mayChange(now);
    const willProtect = input.protected ?? now.protected;
    if (now.protected || willProtect)
      await checkProtected(tx, now, judged, { alias: input.alias, to: to.version });
    if (willProtect !== now.protected || (willProtect && !now.gate))
      await setProtection(tx, {
        projectId: input.projectId,
        alias: input.alias,
        protected: willProtect,
        gateId: willProtect ? (now.gate?.id ?? judged!.gateId) : null,
        tokenId,
      });
    const current = await aliasTarget(tx, model, input.alias);
    const moved = await moveAlias(tx, {
      model,
      alias: input.alias,
      to,
      from: current?.version,
      protected: willProtect,
      verdictId: judged?.verdict.id ?? null,
      actorTokenId: tokenId,
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

/**
 * An admin's rule for one alias name: protect it (binding a gate version: the one named, else the
 * latest, which an admin must have saved) or unprotect it. Everyone else gets a 403 naming the
 * rule.
 *
 * @example
 * await configureProtection(db, project.id, 'production', { protected: true, gate: 'release' },
 *   principal);
 */
export async function configureProtection(
  db: Db,
  projectId: number,
  alias: string,
  input: { protected: boolean; gate?: string; gateVersion?: number },
  principal: Principal | undefined,
): Promise<AliasProtection> {
  requireAdmin(principal, 'protected', 'protects or unprotects an alias or binds its gate');
  const gate =
    input.gate === undefined
      ? undefined
      : await named(
          input.gateVersion === undefined ? 'gate' : 'gateVersion',
          findGate(db, projectId, input.gate, input.gateVersion),
        );
  // "The latest" must not quietly be a version a write token saved after the admin last looked.
  if (gate && input.gateVersion === undefined && !(await savedByAdmin(db, gate.id)))
    throw new AppError(
      409,
      'conflict',
      `gate: the latest version of gate "${gate.name}" (v${gate.version}) was not saved by an admin; read it, then name it with gateVersion to bind it anyway, or save the policy you mean as an admin`,
    );
  await db.transaction(async (tx) => {
    const now = await protectionOf(tx, projectId, alias);
    await setProtection(tx, {
      projectId,
      alias,
      protected: input.protected,
      // Protecting again without naming a gate keeps the one bound.
      gateId: input.protected ? (gate?.id ?? now.gate?.id ?? null) : null,
      tokenId: principal?.tokenId ?? null,
    });
  });
  return protectionOf(db, projectId, alias);
}
