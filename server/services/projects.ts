import { and, asc, desc, eq, inArray, isNotNull, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { displayPrefix, generateToken, hashToken } from '../auth/tokens.ts';
import type { Db } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { apiTokens, projects } from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { Project, TokenInfo } from '../schemas/projects.ts';
import { likePattern } from './like-pattern.ts';
import type { Principal, Role } from './principal.ts';
import { roleAtLeast } from './principal.ts';

type ProjectRow = typeof projects.$inferSelect;
type TokenRow = typeof apiTokens.$inferSelect;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const presentProject = (p: ProjectRow): Project => ({
  id: p.id,
  name: p.name,
  description: p.description,
  createdAt: p.createdAt.toISOString(),
});

export const presentToken = (t: TokenRow): TokenInfo => ({
  id: t.id,
  projectId: t.projectId,
  name: t.name,
  role: t.role,
  prefix: t.prefix,
  createdAt: t.createdAt.toISOString(),
  lastUsedAt: iso(t.lastUsedAt),
  expiresAt: iso(t.expiresAt),
  revokedAt: iso(t.revokedAt),
});

export async function createProject(
  db: Db,
  input: { name: string; description?: string },
): Promise<ProjectRow> {
  try {
    const [row] = await db.insert(projects).values(input).returning();
    return row!;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError(409, 'conflict', `project "${input.name}" already exists`);
    throw err;
  }
}

/** A project by id (all digits) or name. */
export async function findProject(db: Db, idOrName: string): Promise<ProjectRow> {
  const key = /^\d{1,15}$/.test(idOrName)
    ? eq(projects.id, Number(idOrName))
    : eq(projects.name, idOrName);
  const [row] = await db
    .select()
    .from(projects)
    .where(and(key, isNull(projects.deletedAt)))
    .limit(1);
  if (!row) throw notFound(`project "${idOrName}"`);
  return row;
}

/** A project by id or exact name, deleted or not (MLflow shows deleted experiments); undefined when absent. */
export async function findProjectAny(
  db: Db,
  by: { id: number } | { name: string },
): Promise<ProjectRow | undefined> {
  const [row] = await db
    .select()
    .from(projects)
    .where('id' in by ? eq(projects.id, by.id) : eq(projects.name, by.name))
    .limit(1);
  return row;
}

/** Projects by id, deleted or not. */
export async function findProjectsAny(db: Db, ids: number[]): Promise<ProjectRow[]> {
  if (!ids.length) return [];
  return db.select().from(projects).where(inArray(projects.id, ids));
}

/**
 * Renames a project, soft-deletes or restores it (its runs are hidden from search meanwhile), or
 * sets and removes tags, each atomically in SQL.
 */
export async function updateProject(
  db: Db,
  id: number,
  patch: { name?: string; deleted?: boolean; setTags?: Record<string, string>; deleteTag?: string },
): Promise<ProjectRow> {
  const set: PgUpdateSetSource<typeof projects> = {};
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.deleted !== undefined)
    set.deletedAt = patch.deleted ? sql`coalesce(${projects.deletedAt}, now())` : null;
  let tags: SQL = sql`${projects.tags}`;
  if (patch.setTags) tags = sql`${tags} || ${JSON.stringify(patch.setTags)}::jsonb`;
  if (patch.deleteTag !== undefined) tags = sql`${tags} - ${patch.deleteTag}::text`;
  if (patch.setTags || patch.deleteTag !== undefined) set.tags = tags;
  try {
    const [row] = await db.update(projects).set(set).where(eq(projects.id, id)).returning();
    if (!row) throw notFound(`project ${id}`);
    return row;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError(409, 'conflict', `project "${patch.name}" already exists`);
    throw err;
  }
}

export interface ProjectSearch {
  view: 'active' | 'deleted' | 'all';
  names: { op: '=' | '!=' | 'like' | 'ilike'; value: string }[];
  tags: { key: string; op: '=' | '!=' | 'like' | 'ilike'; value: string }[];
  orderBy: { field: 'name' | 'createdAt' | 'id'; direction: 'asc' | 'desc' }[];
  limit: number;
  offset: number;
}

/** Projects the principal can see matching name and tag filters, one offset page at a time. */
export async function searchProjects(
  db: Db,
  principal: Principal | undefined,
  q: ProjectSearch,
): Promise<ProjectRow[]> {
  const where: (SQL | undefined)[] = [
    principal?.projectId ? eq(projects.id, principal.projectId) : undefined,
    q.view === 'all'
      ? undefined
      : q.view === 'deleted'
        ? isNotNull(projects.deletedAt)
        : isNull(projects.deletedAt),
  ];
  const textOp = (column: SQL, op: ProjectSearch['names'][number]['op'], value: string) =>
    op === '='
      ? sql`${column} = ${value}`
      : op === '!='
        ? sql`${column} is distinct from ${value}`
        : op === 'like'
          ? sql`${column} like ${likePattern(value)}`
          : sql`${column} ilike ${likePattern(value)}`;
  for (const n of q.names)
    where.push(
      n.op === '!=' ? ne(projects.name, n.value) : textOp(sql`${projects.name}`, n.op, n.value),
    );
  for (const t of q.tags)
    where.push(textOp(sql`(${projects.tags} ->> ${t.key}::text)`, t.op, t.value));
  const columns = { name: projects.name, createdAt: projects.createdAt, id: projects.id };
  return db
    .select()
    .from(projects)
    .where(and(...where))
    .orderBy(
      ...q.orderBy.map((o) => (o.direction === 'asc' ? asc : desc)(columns[o.field])),
      asc(projects.id),
    )
    .limit(q.limit)
    .offset(q.offset);
}

export async function listProjects(
  db: Db,
  principal: Principal | undefined,
  limit = 1000,
): Promise<ProjectRow[]> {
  const visible = principal?.projectId ? eq(projects.id, principal.projectId) : undefined;
  return db
    .select()
    .from(projects)
    .where(and(isNull(projects.deletedAt), visible))
    .orderBy(asc(projects.name))
    .limit(limit);
}

/** A new token in `projectId`; nobody can hand out more power than they hold. */
export async function createToken(
  db: Db,
  creator: Principal,
  input: { projectId: number | null; name: string; role: Role; expiresAt?: string },
): Promise<{ token: string; row: TokenRow }> {
  if (!roleAtLeast(creator.role, input.role)) {
    throw new AppError(
      403,
      'forbidden',
      `a ${creator.role} token cannot create a ${input.role} token`,
    );
  }
  const token = generateToken();
  const [row] = await db
    .insert(apiTokens)
    .values({
      projectId: input.projectId,
      name: input.name,
      role: input.role,
      tokenHash: hashToken(token),
      prefix: displayPrefix(token),
      expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
    })
    .returning();
  return { token, row: row! };
}

/** The longest a token for every project may live: a forgotten one must still die. */
export const GLOBAL_TOKEN_MAX_DAYS = 366;

/**
 * A token for every project (a remote worker's), which only an admin of every project may mint.
 * It always expires: `expiresAt` must be in the future and at most {@link GLOBAL_TOKEN_MAX_DAYS}
 * days away. Admin tokens are not minted here: they come from `HELDOUT_ADMIN_TOKEN` or first start.
 *
 * @example
 * const { token } = await createGlobalToken(db, admin, { name: 'gpu-box', role: 'write', expiresAt });
 */
export async function createGlobalToken(
  db: Db,
  creator: Principal,
  input: { name: string; role: 'read' | 'write'; expiresAt: string },
): Promise<{ token: string; row: TokenRow }> {
  if (creator.projectId !== null || creator.role !== 'admin')
    throw new AppError(
      403,
      'forbidden',
      'only an admin token for every project may mint a token for every project',
    );
  const ms = Date.parse(input.expiresAt) - Date.now();
  if (!(ms > 0)) throw new AppError(400, 'bad_request', 'expiresAt: must be in the future');
  if (ms > GLOBAL_TOKEN_MAX_DAYS * 86_400_000)
    throw new AppError(
      400,
      'bad_request',
      `expiresAt: a token for every project lives at most ${GLOBAL_TOKEN_MAX_DAYS} days`,
    );
  return createToken(db, creator, { ...input, projectId: null });
}

/** Tokens of one project, or (`null`) the tokens for every project. */
export async function listTokens(db: Db, projectId: number | null): Promise<TokenRow[]> {
  return db
    .select()
    .from(apiTokens)
    .where(projectId === null ? isNull(apiTokens.projectId) : eq(apiTokens.projectId, projectId))
    .orderBy(asc(apiTokens.id))
    .limit(10_000);
}

export async function findToken(db: Db, id: number): Promise<TokenRow> {
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id)).limit(1);
  if (!row) throw notFound(`token ${id}`);
  return row;
}

export async function revokeToken(db: Db, id: number): Promise<TokenRow> {
  const [row] = await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning();
  return row ?? findToken(db, id);
}
