import type { ServerOptions } from 'node:http';
import type { Config } from '../config.ts';

/**
 * Node's limits on slow clients for the HTTP listener. Headers come before anyone is known, so
 * every caller must send them within HELDOUT_UNAUTHENTICATED_TIMEOUT_SECONDS (Node's default is a
 * minute); a body without a token gets the same bound from `anonymousBodies`. Bodies with a token
 * keep Node's 300 s for the whole request: a large upload is slow for honest reasons. Node checks
 * these limits on a timer (30 s by default), which would let a socket outlive its limit by that
 * much; checking every few seconds costs a walk over the open connections.
 *
 * @example
 * serve({ fetch: app.fetch, port, serverOptions: serverTimeouts(config) });
 */
export function serverTimeouts(
  config: Pick<Config, 'HELDOUT_UNAUTHENTICATED_TIMEOUT_SECONDS'>,
): ServerOptions {
  const headersMs = config.HELDOUT_UNAUTHENTICATED_TIMEOUT_SECONDS * 1000;
  return {
    headersTimeout: headersMs,
    requestTimeout: Math.max(300_000, headersMs),
    connectionsCheckingInterval: Math.min(5_000, Math.max(250, headersMs / 4)),
  };
}
