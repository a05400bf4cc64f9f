import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

/**
 * The address a request came from, as far as it can be believed. With `trustedHops` 0 it is the
 * socket's, never X-Forwarded-For, which any client can write. Behind N trusted reverse proxies
 * the socket is the nearest proxy's, and each proxy appends the address it was reached from, so
 * the client is the N-th entry from the right of [...X-Forwarded-For, socket]: entries further
 * left were written by the client and prove nothing. Without a socket (`app.request` in tests)
 * every request shares one address, `unknown`.
 *
 * @example
 * clientAddress(c, 1); // behind one proxy: X-Forwarded-For "6.6.6.6, 198.51.100.7" → 198.51.100.7
 */
export function clientAddress(c: Context, trustedHops: number): string {
  let socket: string;
  try {
    socket = getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    socket = 'unknown';
  }
  if (trustedHops <= 0) return socket;
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const chain = [...forwarded, socket];
  // Fewer entries than proxies: the left-most is what the outermost proxy saw.
  return chain[Math.max(0, chain.length - 1 - trustedHops)]!;
}
