import { and, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { hashToken } from '../auth/tokens.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { apiTokens } from '../db/schema/index.ts';
import { closeUnreadBody } from './anonymous-bodies.ts';
import { AuthFailureLimiter } from './auth-failures.ts';
import { clientAddress } from './client-address.ts';
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

// The shape of every token heldout mints (`generateToken`: 32 random bytes). Guessing one is
// hopeless, so telling a caller whether such a token is valid gives nothing away; an operator's own
// HELDOUT_ADMIN_TOKEN may be weaker and has no such shape.
const MINTED = /^hld_[A-Za-z0-9_-]{43}$/;

/**
 * Resolves `Authorization: Bearer <token>` to a principal. A missing header is anonymous (each
 * route decides whether that may read); a header with an unknown, revoked or expired token is 401
 * at once, so a typo is never silently treated as anonymous.
 *
 * Only failures are counted, per client address (`HELDOUT_TRUST_PROXY` says whether a proxy's
 * X-Forwarded-For names it). An address past its limit is answered 429 with Retry-After, but a
 * valid token is never refused: behind one NAT or proxy, an attacker's failures must not lock out
 * everyone else there. So a token of heldout's own shape is still looked up (one indexed probe;
 * a 256-bit guess learns nothing from the answer), and any other token passes only when it has
 * already worked from that address; malformed headers are refused without a lookup. Successes
 * never clear the count: one valid token of one's own must not buy more guesses at others.
 *
 * @example
 * api.use(authenticate(deps.database.db, deps.config));
 */
export function authenticate(
  db: Db,
  config: Pick<Config, 'HELDOUT_TRUST_PROXY'>,
  limiter = limiterFor(db),
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header === undefined) return next();
    const address = clientAddress(c, config.HELDOUT_TRUST_PROXY);
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    // Constant time with respect to the secret: the token never meets a comparison in JS. It is
    // hashed (SHA-256's time depends on the length only), and the database finds the hash through
    // its index; how long that takes depends on the hash's bytes, which no caller can steer.
    const hash = match ? hashToken(match[1]!) : undefined;
    const key = hash?.toString('hex');
    const wait = limiter.retryAfterSeconds(address);
    // Refused from its headers: the body, however large, is never read.
    const refuse = (err: AppError) => {
      closeUnreadBody(c);
      return err;
    };
    const limited = () => {
      c.header('Retry-After', String(wait));
      return refuse(
        new AppError(
          429,
          'rate_limited',
          `too many failed authentications from this address; retry in ${wait} s`,
        ),
      );
    };
    const minted = Boolean(match && MINTED.test(match[1]!));
    if (wait > 0 && !minted && !(key && limiter.knownGood(address, key))) throw limited();
    if (!hash || !key) {
      limiter.fail(address);
      throw refuse(new AppError(401, 'unauthorized', 'Authorization must be "Bearer <token>"'));
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
      if (wait > 0) throw limited();
      throw refuse(new AppError(401, 'unauthorized', 'the token is unknown, revoked or expired'));
    }
    // Minted tokens pass the limiter by their shape; the few others are remembered per address.
    if (!minted) limiter.succeed(address, key);
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
