import { isDeepStrictEqual } from 'node:util';
import { and, desc, eq } from 'drizzle-orm';
import {
  evaluateGate,
  parseGatePolicy,
  renderJUnit,
  renderMarkdownSummary,
  servingWindows,
  type CheckResult,
  type GatePolicy,
  type Verdict,
} from '../../evaluators/gates/index.ts';
import type { Db } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import {
  apiTokens,
  checkpoints,
  gates,
  models,
  modelVersions,
  verdicts,
} from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { Gate, VerdictBody } from '../schemas/registry.ts';
import { boundGateNames, repinGate, requireAdmin } from './alias-protection.ts';
import { gatherEvidence, type EvidenceSources } from './evidence.ts';
import type { Principal } from './principal.ts';
import { aliasTarget, type ModelRow, type ModelVersionRow, type Tx } from './registry.ts';

export type GateRow = typeof gates.$inferSelect;

export const presentGate = (g: GateRow): Gate => ({
  id: g.id,
  projectId: g.projectId,
  name: g.name,
  version: g.version,
  policy: g.policy,
  description: g.description,
  createdAt: g.createdAt.toISOString(),
});

async function latestGate(db: Db, projectId: number, name: string): Promise<GateRow | undefined> {
  const [row] = await db
    .select()
    .from(gates)
    .where(and(eq(gates.projectId, projectId), eq(gates.name, name)))
    .orderBy(desc(gates.version))
    .limit(1);
  return row;
}

/**
 * Saves a gate policy. The policy is validated by the gate engine (400 naming `policy.<path>`) and
 * stored with its defaults applied; the same policy as the latest version returns that version,
 * a different one becomes the next version, so verdicts keep pointing at the policy they used.
 * A gate bound to a protected alias is re-versioned only by an admin, and its new version is what
 * the alias requires from then on (the binding is re-pinned in the same transaction).
 *
 * @example
 * const { gate, created } = await saveGate(db, project.id, { name: 'release', policy }, principal);
 */
export async function saveGate(
  db: Db,
  projectId: number,
  input: { name: string; policy: unknown; description?: string },
  principal: Principal | undefined,
): Promise<{ gate: GateRow; created: boolean }> {
  const parsed = parseGatePolicy(input.policy);
  if (!parsed.ok) {
    const details = parsed.errors.map((e) => ({
      path: e.path ? `policy.${e.path}` : 'policy',
      message: e.message,
    }));
    throw new AppError(
      400,
      'validation_failed',
      `${details[0]!.path}: ${details[0]!.message}`,
      details,
    );
  }
  for (let attempt = 0; ; attempt++) {
    const latest = await latestGate(db, projectId, input.name);
    // jsonb does not keep key order; a deep comparison does not care about it either.
    if (latest && isDeepStrictEqual(latest.policy, parsed.policy))
      return { gate: latest, created: false };
    const bound = (await boundGateNames(db, projectId)).has(input.name);
    if (bound)
      requireAdmin(
        principal,
        'name',
        `re-versions gate "${input.name}": it is bound to a protected alias (see GET /api/v1/projects/{project}/protected-aliases)`,
      );
    try {
      const row = await db.transaction(async (tx) => {
        const [saved] = await tx
          .insert(gates)
          .values({
            projectId,
            name: input.name,
            version: (latest?.version ?? 0) + 1,
            policy: parsed.policy,
            description: input.description ?? latest?.description ?? null,
            createdByTokenId: principal?.tokenId ?? null,
          })
          .returning();
        if (bound) await repinGate(tx, projectId, input.name, saved!.id);
        return saved!;
      });
      return { gate: row, created: true };
    } catch (err) {
      // Someone saved a version at the same moment: look again (it may be this very policy).
      if (!isUniqueViolation(err) || attempt >= 2) throw err;
    }
  }
}

/** The latest version of every gate of the project, by name. */
export async function listGates(db: Db, projectId: number): Promise<GateRow[]> {
  // Unpaged, so bounded: no list endpoint answers with an unbounded number of rows.
  return db
    .selectDistinctOn([gates.name])
    .from(gates)
    .where(eq(gates.projectId, projectId))
    .orderBy(gates.name, desc(gates.version))
    .limit(10_000);
}

/** Whether an admin token saved this gate version (its token may since have been removed). */
export async function savedByAdmin(db: Tx, gateId: number): Promise<boolean> {
  const [row] = await db
    .select({ role: apiTokens.role })
    .from(gates)
    .innerJoin(apiTokens, eq(apiTokens.id, gates.createdByTokenId))
    .where(eq(gates.id, gateId));
  return row?.role === 'admin';
}

/** A gate by name: its latest version, or `version`. */
export async function findGate(
  db: Db,
  projectId: number,
  name: string,
  version?: number,
): Promise<GateRow> {
  if (version === undefined) {
    const row = await latestGate(db, projectId, name);
    if (!row) throw notFound(`gate "${name}"`);
    return row;
  }
  const [row] = await db
    .select()
    .from(gates)
    .where(and(eq(gates.projectId, projectId), eq(gates.name, name), eq(gates.version, version)));
  if (!row) throw notFound(`version ${version} of gate "${name}"`);
  return row;
}

type VerdictRow = typeof verdicts.$inferSelect;

const presentVerdict = (
  v: VerdictRow,
  gate: { name: string; version: number },
  model: { name: string; version: number },
): VerdictBody => ({
  id: v.id,
  gate: { name: gate.name, version: gate.version },
  model: model.name,
  version: model.version,
  outcome: v.outcome,
  checks: v.checks as VerdictBody['checks'],
  createdByTokenId: v.createdByTokenId,
  createdAt: v.createdAt.toISOString(),
});

/**
 * Judges one model version with a gate and stores the verdict. `alias`, when given, names the
 * champion: the version that alias points to now is the `champion` baseline.
 *
 * @example
 * const v = await computeVerdict(db, { gate, model, version, alias: 'production', tokenId: 1 });
 */
export async function computeVerdict(
  db: Db,
  input: {
    gate: GateRow;
    model: ModelRow;
    version: ModelVersionRow;
    alias?: string;
    tokenId: number | null;
  },
): Promise<{ verdict: VerdictBody; sources: EvidenceSources; checkpointSha256: string | null }> {
  const champion = input.alias ? await aliasTarget(db, input.model, input.alias) : undefined;
  // Stored policies were validated on the way in, with defaults applied.
  const policy = input.gate.policy as GatePolicy;
  const { input: evidence, sources } = await gatherEvidence(db, {
    projectId: input.model.projectId,
    checkpointId: input.version.checkpointId,
    championCheckpointId: champion?.version.checkpointId,
    serving: { modelVersionId: input.version.id, windows: servingWindows(policy) },
  });
  const result = evaluateGate(policy, evidence);
  const [judged] = await db
    .select({ sha256: checkpoints.sha256 })
    .from(checkpoints)
    .where(eq(checkpoints.id, input.version.checkpointId));
  const [row] = await db
    .insert(verdicts)
    .values({
      gateId: input.gate.id,
      modelVersionId: input.version.id,
      outcome: result.outcome,
      checks: result.checks,
      checkpointSha256: judged?.sha256 ?? null,
      createdByTokenId: input.tokenId,
    })
    .returning();
  return {
    verdict: presentVerdict(row!, input.gate, {
      name: input.model.name,
      version: input.version.version,
    }),
    sources,
    checkpointSha256: row!.checkpointSha256,
  };
}

/**
 * A stored verdict with its gate version's id, the model version and weights it judged, and its
 * project (for authorisation).
 */
export async function findVerdict(
  db: Db,
  verdictId: string,
): Promise<{
  verdict: VerdictBody;
  projectId: number;
  modelVersionId: number;
  gateId: number;
  checkpointSha256: string | null;
}> {
  const [row] = await db
    .select({
      verdict: verdicts,
      gateName: gates.name,
      gateVersion: gates.version,
      projectId: models.projectId,
      modelName: models.name,
      version: modelVersions.version,
    })
    .from(verdicts)
    .innerJoin(gates, eq(gates.id, verdicts.gateId))
    .innerJoin(modelVersions, eq(modelVersions.id, verdicts.modelVersionId))
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(eq(verdicts.id, verdictId));
  if (!row) throw notFound(`verdict ${verdictId}`);
  return {
    verdict: presentVerdict(
      row.verdict,
      { name: row.gateName, version: row.gateVersion },
      { name: row.modelName, version: row.version },
    ),
    projectId: row.projectId,
    modelVersionId: row.verdict.modelVersionId,
    gateId: row.verdict.gateId,
    checkpointSha256: row.verdict.checkpointSha256,
  };
}

/** Every verdict given on a model's versions, newest first: blocked candidates included. */
export async function listVerdicts(db: Db, model: ModelRow, limit = 200): Promise<VerdictBody[]> {
  const rows = await db
    .select({
      verdict: verdicts,
      gateName: gates.name,
      gateVersion: gates.version,
      version: modelVersions.version,
    })
    .from(verdicts)
    .innerJoin(gates, eq(gates.id, verdicts.gateId))
    .innerJoin(modelVersions, eq(modelVersions.id, verdicts.modelVersionId))
    .where(eq(modelVersions.modelId, model.id))
    .orderBy(desc(verdicts.createdAt))
    .limit(limit);
  return rows.map((r) =>
    presentVerdict(
      r.verdict,
      { name: r.gateName, version: r.gateVersion },
      { name: model.name, version: r.version },
    ),
  );
}

/** A stored verdict rendered for CI: JUnit XML or a Markdown summary. */
export function renderVerdict(v: VerdictBody, format: 'junit' | 'markdown'): string {
  const verdict: Verdict = {
    outcome: v.outcome,
    checks: v.checks as unknown as CheckResult[],
    // The reports read the leaves only; the tree is not stored.
    tree: { path: 'root', kind: 'all', outcome: v.outcome },
  };
  return format === 'junit'
    ? renderJUnit(v.gate.name, verdict)
    : renderMarkdownSummary(v.gate.name, verdict);
}
