import { and, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { hashToken } from '../auth/tokens.ts';
import type { Db } from '../db/client.ts';
import { apiTokens } from '../db/schema/index.ts';
import { AppError } from './errors.ts';
import type { AppEnv } from './env.ts';
import type { Principal } from '../services/principal.ts';

// last_used_at is informative; writing it on every request would turn each read into a write.
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Resolves `Authorization: Bearer <token>` to a principal. A missing header is anonymous (each
 * route decides whether that may read); a header with an unknown, revoked or expired token is 401
 * at once, so a typo is never silently treated as anonymous.
 */
export function authenticate(db: Db): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header === undefined) return next();
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    if (!match) throw new AppError(401, 'unauthorized', 'Authorization must be "Bearer <token>"');
    const [row] = await db
      .select({
        id: apiTokens.id,
        projectId: apiTokens.projectId,
        role: apiTokens.role,
        lastUsedAt: apiTokens.lastUsedAt,
      })
      .from(apiTokens)
      .where(
        and(
          // Looked up by its hash: the token itself is never compared, stored or logged.
          eq(apiTokens.tokenHash, hashToken(match[1]!)),
          isNull(apiTokens.revokedAt),
          or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, sql`now()`)),
        ),
      )
      .limit(1);
    if (!row) throw new AppError(401, 'unauthorized', 'the token is unknown, revoked or expired');
    const principal: Principal = { tokenId: row.id, projectId: row.projectId, role: row.role };
    c.set('principal', principal);
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      void db
        .update(apiTokens)
        .set({ lastUsedAt: sql`now()` })
        .where(eq(apiTokens.id, row.id))
        .catch(() => {});
    }
    return next();
  };
}
