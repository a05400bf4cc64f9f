import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Config } from '../config.ts';
import { AppError } from './errors.ts';
import type { AppEnv } from './env.ts';

/** The most a caller without a token may send, with HELDOUT_PUBLIC_READ: a search, not a file. */
export const ANONYMOUS_MAX_BODY_BYTES = 64 * 1024;

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

function hasBody(c: Context): boolean {
  if (READS.has(c.req.method)) return false;
  const length = c.req.header('content-length');
  return c.req.header('transfer-encoding') !== undefined || (!!length && length !== '0');
}

/**
 * Marks the answer to a request whose body will not be read as the connection's last, so that
 * Node closes the socket after it instead of reading (and discarding) the rest of the body: a 16
 * MiB upload refused for its token costs the server nothing more than its headers.
 *
 * @example
 * closeUnreadBody(c); throw new AppError(401, 'unauthorized', '...');
 */
export function closeUnreadBody(c: Context): void {
  if (hasBody(c)) c.header('Connection', 'close');
}

/**
 * What a request without a token may send, decided from its headers before a byte of its body is
 * read (place it after `authenticate`). Without HELDOUT_PUBLIC_READ an anonymous request with a
 * body is answered 401 at once: every route would refuse it after parsing. With it (searches are
 * POSTs) the body may hold 64 KiB and must arrive within HELDOUT_UNAUTHENTICATED_TIMEOUT_SECONDS,
 * or the socket is closed: a caller with no token cannot hold one open by dribbling bytes.
 *
 * @example
 * api.use(authenticate(db, config)).use(anonymousBodies(config));
 */
export function anonymousBodies(
  config: Pick<Config, 'HELDOUT_PUBLIC_READ' | 'HELDOUT_UNAUTHENTICATED_TIMEOUT_SECONDS'>,
): MiddlewareHandler<AppEnv> {
  const limit = bodyLimit({
    maxSize: ANONYMOUS_MAX_BODY_BYTES,
    onError: (c) => {
      closeUnreadBody(c);
      throw new AppError(
        413,
        'payload_too_large',
        `without a token a body may hold at most ${ANONYMOUS_MAX_BODY_BYTES} bytes`,
      );
    },
  });
  return async (c, next) => {
    if (c.get('principal') || !hasBody(c)) return next();
    if (!config.HELDOUT_PUBLIC_READ) {
      closeUnreadBody(c);
      throw new AppError(
        401,
        'unauthorized',
        'a bearer token is required to send a body (Authorization: Bearer <token>)',
      );
    }
    const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
    if (incoming && !incoming.complete) {
      const timer = setTimeout(() => {
        if (!incoming.complete) incoming.socket.destroy();
      }, config.HELDOUT_UNAUTHENTICATED_TIMEOUT_SECONDS * 1000);
      timer.unref();
      incoming.once('close', () => clearTimeout(timer));
      incoming.once('end', () => clearTimeout(timer));
    }
    return limit(c, next);
  };
}
