import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.ts';
import type { Logger } from 'pino';

/**
 * One structured line per request. Only the path is logged: query strings and headers can carry
 * credentials, and tokens must never reach the logs.
 */
// Workers poll for jobs and heartbeat every second: at info level they would drown everything else.
const routine = /\/jobs\/(claim|[^/]+\/heartbeat)$/;

export function requestLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const level = c.res.status < 400 && routine.test(c.req.path) ? 'debug' : 'info';
    logger[level](
      {
        reqId: c.get('requestId'),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
  };
}
