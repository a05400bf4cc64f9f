import { and, eq, inArray, isNotNull, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { aliasProtections, gates, models } from '../db/schema/index.ts';
import { AppError } from '../http/errors.ts';
import type { AliasProtection } from '../schemas/alias-protection.ts';
import type { Principal } from './principal.ts';
import type { Tx } from './registry.ts';

/**
 * Alias names protected on every project until an admin says otherwise: what release pipelines
 * deploy from must not move on a write token alone.
 */
export const DEFAULT_PROTECTED_ALIASES: readonly string[] = ['production'];

type Row = {
  alias: string;
  protected: boolean;
  gateId: number | null;
  gateName: string | null;
  gateVersion: number | null;
  updatedByTokenId: number | null;
  updatedAt: Date;
};

const present = (r: Row): AliasProtection => ({
  alias: r.alias,
  protected: r.protected,
  gate: r.gateId === null ? null : { id: r.gateId, name: r.gateName!, version: r.gateVersion! },
  source: 'set',
  updatedByTokenId: r.updatedByTokenId,
  updatedAt: r.updatedAt.toISOString(),
});

const byDefault = (alias: string): AliasProtection => ({
  alias,
  protected: DEFAULT_PROTECTED_ALIASES.includes(alias),
  gate: null,
  source: 'default',
  updatedByTokenId: null,
  updatedAt: null,
});

function rows(db: Tx, projectId: number, alias?: string) {
  return db
    .select({
      alias: aliasProtections.alias,
      protected: aliasProtections.protected,
      gateId: aliasProtections.gateId,
      gateName: gates.name,
      gateVersion: gates.version,
      updatedByTokenId: aliasProtections.updatedByTokenId,
      updatedAt: aliasProtections.updatedAt,
    })
    .from(aliasProtections)
    .leftJoin(gates, eq(gates.id, aliasProtections.gateId))
    .where(
      and(
        eq(aliasProtections.projectId, projectId),
        alias === undefined ? undefined : eq(aliasProtections.alias, alias),
      ),
    )
    .orderBy(aliasProtections.alias)
    .limit(10_000);
}

/**
 * Whether an alias name of the project is protected, and the gate version bound to it. This is
 * the one place that answers it for every surface (native, CLI, MLflow, `/v1`).
 *
 * @example
 * const rule = await protectionOf(db, project.id, 'production'); // protected, gate null at first
 */
export async function protectionOf(
  db: Tx,
  projectId: number,
  alias: string,
): Promise<AliasProtection> {
  const [row] = await rows(db, projectId, alias);
  return row ? present(row) : byDefault(alias);
}

/** Every alias name with a rule: the defaults and whatever an admin (or a first promotion) set. */
export async function listProtections(db: Tx, projectId: number): Promise<AliasProtection[]> {
  const set = (await rows(db, projectId)).map(present);
  const defaults = DEFAULT_PROTECTED_ALIASES.filter((a) => !set.some((r) => r.alias === a));
  return [...set, ...defaults.map(byDefault)].sort((a, b) => a.alias.localeCompare(b.alias));
}

/** Throws 403 naming `field` unless the caller holds an admin token. */
export function requireAdmin(principal: Principal | undefined, field: string, act: string) {
  if (principal?.role !== 'admin')
    throw new AppError(
      403,
      'forbidden',
      `${field}: only an admin token ${act}; this one is ${principal?.role ?? 'anonymous'}`,
    );
}

/**
 * Writes the rule for one alias name. Callers decide who may: an admin, or a first promotion
 * binding the gate it passed.
 */
export async function setProtection(
  tx: Tx,
  input: {
    projectId: number;
    alias: string;
    protected: boolean;
    gateId: number | null;
    tokenId: number | null;
  },
) {
  const values = {
    projectId: input.projectId,
    alias: input.alias,
    protected: input.protected,
    gateId: input.gateId,
    updatedByTokenId: input.tokenId,
  };
  await tx
    .insert(aliasProtections)
    .values(values)
    .onConflictDoUpdate({
      target: [aliasProtections.projectId, aliasProtections.alias],
      set: { ...values, updatedAt: sql`now()` },
    });
}

/**
 * The same rule as `protectionOf`, as a SQL boolean over a model's alias row (its model id and
 * alias name columns), for queries that list or delete aliases: the project's row for that name,
 * else whether the name is protected by default.
 *
 * @example
 * db.select().from(modelAliases).where(aliasIsProtected(modelAliases.modelId, modelAliases.alias));
 */
export function aliasIsProtected(modelId: SQLWrapper, alias: SQLWrapper): SQL<boolean> {
  const defaults = sql.join(
    DEFAULT_PROTECTED_ALIASES.map((a) => sql`${a}`),
    sql`, `,
  );
  return sql<boolean>`coalesce((
    select ${aliasProtections.protected} from ${aliasProtections}
    join ${models} on ${models.projectId} = ${aliasProtections.projectId}
    where ${models.id} = ${modelId} and ${aliasProtections.alias} = ${alias}
  ), ${alias} in (${defaults}))`;
}

/** The names of the project's gates that protect an alias: only an admin re-versions those. */
export async function boundGateNames(db: Tx, projectId: number): Promise<Set<string>> {
  const found = await db
    .selectDistinct({ name: gates.name })
    .from(aliasProtections)
    .innerJoin(gates, eq(gates.id, aliasProtections.gateId))
    .where(
      and(
        eq(aliasProtections.projectId, projectId),
        eq(aliasProtections.protected, true),
        isNotNull(aliasProtections.gateId),
      ),
    );
  return new Set(found.map((r) => r.name));
}

/** Re-pins every alias bound to a version of gate `name` to `gateId`, its newest version. */
export async function repinGate(tx: Tx, projectId: number, name: string, gateId: number) {
  await tx
    .update(aliasProtections)
    .set({ gateId, updatedAt: sql`now()` })
    .where(
      and(
        eq(aliasProtections.projectId, projectId),
        inArray(
          aliasProtections.gateId,
          tx
            .select({ id: gates.id })
            .from(gates)
            .where(and(eq(gates.projectId, projectId), eq(gates.name, name))),
        ),
      ),
    );
}
