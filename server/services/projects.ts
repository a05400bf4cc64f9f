import { and, asc, eq, isNull } from 'drizzle-orm';
import { displayPrefix, generateToken, hashToken } from '../auth/tokens.ts';
import type { Db } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { apiTokens, projects } from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { Project, TokenInfo } from '../schemas/projects.ts';
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
  input: { projectId: number; name: string; role: Role; expiresAt?: string },
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

export async function listTokens(db: Db, projectId: number): Promise<TokenRow[]> {
  return db
    .select()
    .from(apiTokens)
    .where(eq(apiTokens.projectId, projectId))
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
