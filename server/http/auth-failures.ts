/** How many failed authentications a client address may make, and over how long. */
export interface AuthFailureLimits {
  failures: number;
  windowMs: number;
  /** Addresses remembered at once; the least recently seen is forgotten first. */
  maxClients: number;
}

export const DEFAULT_AUTH_FAILURE_LIMITS: AuthFailureLimits = {
  failures: 20,
  windowMs: 60_000,
  maxClients: 10_000,
};

// Tokens of heldout's own shape pass the limiter whatever this holds (see authenticate); this
// remembers the others, an operator's HELDOUT_ADMIN_TOKEN: a few per address, a few hundred bytes.
const GOOD_TOKENS_PER_CLIENT = 8;

interface Client {
  /** Times of the failures still inside the window, oldest first; never more than the limit. */
  failures: number[];
  /** Hashes (hex) of operator-chosen tokens that authenticated from this address. */
  good: Set<string>;
}

/**
 * Failed authentications per client address in a sliding window, in memory and bounded: at most
 * `maxClients` addresses, each with at most `failures` timestamps and a few token hashes.
 *
 * @example
 * const limiter = new AuthFailureLimiter();
 * if (limiter.retryAfterSeconds('10.0.0.7') > 0) ...; // refuse without touching the database
 * limiter.fail('10.0.0.7');
 */
export class AuthFailureLimiter {
  readonly #clients = new Map<string, Client>();
  constructor(readonly limits: AuthFailureLimits = DEFAULT_AUTH_FAILURE_LIMITS) {}

  /** Seconds until this address may fail again; 0 while it is under its limit. */
  retryAfterSeconds(address: string, now = Date.now()): number {
    const client = this.#clients.get(address);
    if (!client) return 0;
    const since = now - this.limits.windowMs;
    while (client.failures.length > 0 && client.failures[0]! <= since) client.failures.shift();
    if (client.failures.length < this.limits.failures) return 0;
    return Math.max(1, Math.ceil((client.failures[0]! - since) / 1000));
  }

  fail(address: string, tokenHash?: string, now = Date.now()): void {
    const client = this.#touch(address);
    if (tokenHash) client.good.delete(tokenHash);
    client.failures.push(now);
    if (client.failures.length > this.limits.failures) client.failures.shift();
  }

  succeed(address: string, tokenHash: string): void {
    const { good } = this.#touch(address);
    good.delete(tokenHash);
    good.add(tokenHash);
    if (good.size > GOOD_TOKENS_PER_CLIENT) good.delete(good.values().next().value!);
  }

  /** Whether this token has already authenticated from this address. */
  knownGood(address: string, tokenHash: string): boolean {
    return this.#clients.get(address)?.good.has(tokenHash) ?? false;
  }

  #touch(address: string): Client {
    const client = this.#clients.get(address) ?? { failures: [], good: new Set<string>() };
    // Re-inserted so the map's order is least recently seen first.
    this.#clients.delete(address);
    this.#clients.set(address, client);
    if (this.#clients.size > this.limits.maxClients)
      this.#clients.delete(this.#clients.keys().next().value!);
    return client;
  }
}
