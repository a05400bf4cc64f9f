import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { apiTokens } from '../db/schema/index.ts';

const TOKEN_PREFIX = 'hld_';

/** A new random token; only its hash is ever stored. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** What a listing shows: enough to tell tokens apart, far too little to use one. */
export function displayPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 6);
}

/**
 * Makes sure an admin token exists. Returns the token only when this call created it from
 * randomness, because that is the one moment it can be shown. A token given by the operator
 * (`HELDOUT_ADMIN_TOKEN`) is registered if its hash is unknown, and never echoed back.
 *
 * @example
 * const { created } = await ensureAdminToken(db, process.env.HELDOUT_ADMIN_TOKEN);
 */
export async function ensureAdminToken(
  db: Db,
  given?: string,
): Promise<{ created?: string; registeredGiven: boolean }> {
  if (given) {
    const inserted = await db
      .insert(apiTokens)
      .values({
        name: 'admin (HELDOUT_ADMIN_TOKEN)',
        role: 'admin',
        tokenHash: hashToken(given),
        prefix: displayPrefix(given),
      })
      .onConflictDoNothing({ target: apiTokens.tokenHash })
      .returning({ id: apiTokens.id });
    return { registeredGiven: inserted.length > 0 };
  }
  const [existing] = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.role, 'admin'), isNull(apiTokens.projectId)))
    .limit(1);
  if (existing) return { registeredGiven: false };
  const token = generateToken();
  await db.insert(apiTokens).values({
    name: 'admin (first start)',
    role: 'admin',
    tokenHash: hashToken(token),
    prefix: displayPrefix(token),
  });
  return { created: token, registeredGiven: false };
}

/**
 * A fresh token for the worker inside `heldout serve`, which talks to its own server over HTTP
 * like any remote worker: global write, never shown, revoked by `revoke()` when the server stops.
 */
export async function mintWorkerToken(db: Db, owner: string) {
  const token = generateToken();
  const [row] = await db
    .insert(apiTokens)
    .values({
      name: `in-process worker of ${owner}`,
      role: 'write',
      tokenHash: hashToken(token),
      prefix: displayPrefix(token),
    })
    .returning({ id: apiTokens.id });
  return {
    token,
    revoke: async () => {
      await db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, row!.id));
    },
  };
}
