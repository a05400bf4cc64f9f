import { getConnInfo } from '@hono/node-server/conninfo';
import { and, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { Context, MiddlewareHandler } from 'hono';
import { hashToken } from '../auth/tokens.ts';
import type { Db } from '../db/client.ts';
import { apiTokens } from '../db/schema/index.ts';
import { AuthFailureLimiter } from './auth-failures.ts';
import { AppError } from './errors.ts';
import type { AppEnv } from './env.ts';
import type { Principal } from '../services/principal.ts';

// last_used_at is informative; writing it on every request would turn each read into a write.
const LAST_USED_RESOLUTION_MS = 60_000;

// One limiter per database, so /api/v1 and each MLflow group (which mount their own authenticate)
// count a client's failures together, and two apps in one process (tests) do not share theirs.
const limiters = new WeakMap<Db, AuthFailureLimiter>();

function limiterFor(db: Db): AuthFailureLimiter {
  let limiter = limiters.get(db);
  if (!limiter) limiters.set(db, (limiter = new AuthFailureLimiter()));
  return limiter;
}

// The socket's address, never X-Forwarded-For, which any client can write. Behind a reverse proxy
// every client is the proxy; without a socket (`app.request` in tests) all share one bucket.
function clientAddress(c: Context<AppEnv>): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Resolves `Authorization: Bearer <token>` to a principal. A missing header is anonymous (each
 * route decides whether that may read); a header with an unknown, revoked or expired token is 401
 * at once, so a typo is never silently treated as anonymous.
 *
 * An address past its limit of failures is answered 429 with Retry-After, without a database
 * lookup, except for a token that already authenticated from that address: an attacker sharing
 * the address (the same NAT or reverse proxy) cannot lock out the users already working there.
 * Successes are never counted, and never clear the count (one valid token of one's own must not
 * buy more guesses at others).
 */
export function authenticate(db: Db, limiter = limiterFor(db)): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header === undefined) return next();
    const address = clientAddress(c);
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    // Constant time with respect to the secret: the token never meets a comparison in JS. It is
    // hashed (SHA-256's time depends on the length only), and the database finds the hash through
    // its index; how long that takes depends on the hash's bytes, which no caller can steer.
    const hash = match ? hashToken(match[1]!) : undefined;
    const key = hash?.toString('hex');
    const wait = limiter.retryAfterSeconds(address);
    if (wait > 0 && !(key && limiter.knownGood(address, key))) {
      c.header('Retry-After', String(wait));
      throw new AppError(
        429,
        'rate_limited',
        `too many failed authentications from this address; retry in ${wait} s`,
      );
    }
    if (!hash || !key) {
      limiter.fail(address);
      throw new AppError(401, 'unauthorized', 'Authorization must be "Bearer <token>"');
    }
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
          eq(apiTokens.tokenHash, hash),
          isNull(apiTokens.revokedAt),
          or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, sql`now()`)),
        ),
      )
      .limit(1);
    if (!row) {
      limiter.fail(address, key);
      throw new AppError(401, 'unauthorized', 'the token is unknown, revoked or expired');
    }
    limiter.succeed(address, key);
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
