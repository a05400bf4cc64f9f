import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
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
 * A fresh global write token for the worker inside `heldout serve`, which talks to its own server
 * over HTTP like any remote worker. It is never shown and expires after `ttlMs`, so a server that
 * crashes (and never revokes it) leaves behind a token that dies on its own soon.
 *
 * @example
 * const minted = await mintWorkerToken(db, 'host:4242', 3_600_000);
 */
export async function mintWorkerToken(db: Db, owner: string, ttlMs: number) {
  const token = generateToken();
  const [row] = await db
    .insert(apiTokens)
    .values({
      name: `in-process worker of ${owner}`,
      role: 'write',
      tokenHash: hashToken(token),
      prefix: displayPrefix(token),
      expiresAt: sql`now() + make_interval(secs => ${ttlMs / 1000})`,
    })
    .returning({ id: apiTokens.id, expiresAt: apiTokens.expiresAt });
  return { token, id: row!.id, expiresAt: row!.expiresAt! };
}

/** Options of {@link rotatingWorkerToken}. */
export interface WorkerTokenRotationOptions {
  /** How long each minted token lives; a new one is minted at half that age. */
  ttlMs: number;
  /**
   * How long a replaced token still works, for requests already on their way with it (and child
   * processes that have not heard of the new one yet). Default 60 s.
   */
  graceMs?: number;
  /** Hands the new token to whoever uses it (the worker) before the old one is retired. */
  onToken: (token: string) => void | Promise<void>;
  /** A rotation that failed; it is tried again soon, while the current token still lives. */
  onError?: (err: unknown) => void;
}

/**
 * The in-process worker's token, replaced before it expires: `rotate()` mints a new one, hands it
 * over through `onToken`, then cuts the old one's life to the grace period. A timer rotates at
 * half the lifetime; `stop()` ends the rotation and revokes the current token.
 *
 * @example
 * const rotation = await rotatingWorkerToken(db, owner, { ttlMs: 3_600_000, onToken: worker.setToken });
 * await rotation.stop();
 */
export async function rotatingWorkerToken(db: Db, owner: string, opts: WorkerTokenRotationOptions) {
  const graceMs = opts.graceMs ?? 60_000;
  let current = await mintWorkerToken(db, owner, opts.ttlMs);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let rotating: Promise<string> | undefined;
  const revoke = (id: number) =>
    db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, id));

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      rotate().then(
        () => schedule(opts.ttlMs / 2),
        (err: unknown) => {
          opts.onError?.(err);
          // Retried well within the current token's remaining life.
          schedule(Math.min(60_000, opts.ttlMs / 10));
        },
      );
    }, ms);
    timer.unref();
  };

  async function doRotate(): Promise<string> {
    const next = await mintWorkerToken(db, owner, opts.ttlMs);
    try {
      await opts.onToken(next.token);
    } catch (err) {
      await revoke(next.id);
      throw err;
    }
    const old = current;
    current = next;
    await db
      .update(apiTokens)
      .set({
        expiresAt: sql`least(${apiTokens.expiresAt}, now() + make_interval(secs => ${graceMs / 1000}))`,
      })
      .where(eq(apiTokens.id, old.id));
    return next.token;
  }

  /** Replaces the token now; resolves with the new one. */
  function rotate(): Promise<string> {
    rotating ??= doRotate().finally(() => (rotating = undefined));
    return rotating;
  }

  schedule(opts.ttlMs / 2);
  return {
    get token() {
      return current.token;
    },
    get tokenId() {
      return current.id;
    },
    rotate,
    /** Stops rotating and revokes the token in use (the worker must be stopped first). */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await rotating?.catch(() => {});
      await revoke(current.id);
    },
  };
}
