import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { AppError, toErrorResponse } from './http/errors.ts';
import type { AppDeps, AppEnv } from './http/env.ts';
import { requestLog } from './http/request-log.ts';
import { healthRoutes } from './routes/health.ts';

/**
 * The whole HTTP surface as one Hono app. Tests call `app.request()` on it with no socket open.
 *
 * @example
 * const app = createApp({ database, logger, version: '0.1.0' });
 * const res = await app.request('/api/v1/health');
 */
export function createApp(deps: AppDeps) {
  const api = new Hono<AppEnv>().route('/', healthRoutes(deps));
  return new Hono<AppEnv>()
    .use(requestId())
    .use(requestLog(deps.logger))
    .route('/api/v1', api)
    .notFound((c) =>
      toErrorResponse(
        new AppError(404, 'not_found', `no route for ${c.req.method} ${c.req.path}`),
        c,
        deps.logger,
      ),
    )
    .onError((err, c) => toErrorResponse(err, c, deps.logger));
}

export type App = ReturnType<typeof createApp>;
