import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import { anonymousBodies } from './http/anonymous-bodies.ts';
import { authenticate } from './http/auth.ts';
import { AppError, toErrorResponse } from './http/errors.ts';
import { jsonDepthLimit } from './http/json-depth.ts';
import type { AppDeps, AppEnv } from './http/env.ts';
import { createRouter } from './http/openapi.ts';
import { requestLog } from './http/request-log.ts';
import { isStreamedUpload } from './http/uploads.ts';
import { artifactRoutes } from './routes/artifacts.ts';
import { checkpointRoutes } from './routes/checkpoints.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { evaluationViewRoutes } from './routes/evaluation-views.ts';
import { gateRoutes } from './routes/gates.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';
import { leaderboardRoutes } from './routes/leaderboard.ts';
import { metricRoutes } from './routes/metrics.ts';
import { pluginRoutes } from './routes/plugins.ts';
import { preferenceRoutes } from './routes/preferences.ts';
import { projectRoutes } from './routes/projects.ts';
import { quickstartRoutes } from './routes/quickstart.ts';
import { protectedAliasRoutes } from './routes/protected-aliases.ts';
import { registryRoutes } from './routes/registry.ts';
import { runEvaluationRoutes } from './routes/run-evaluations.ts';
import { runRoutes } from './routes/runs.ts';
import { suiteRoutes } from './routes/suites.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { webRoutes } from './routes/web.ts';
import { mountMlflow } from './mlflow/app.ts';
import { servingRoutes } from './routes/serving.ts';
import { mountOpenAi } from './serve/app.ts';

/**
 * The whole HTTP surface as one Hono app. Tests call `app.request()` on it with no socket open.
 *
 * @example
 * const app = createApp({ database, logger, config: loadConfig(), version: '0.1.0' });
 * const res = await app.request('/api/v1/health');
 */
export function createApp(deps: AppDeps) {
  const api = createRouter();
  api.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'an API token (hld_...); reads need one too unless HELDOUT_PUBLIC_READ=1',
  });
  // Bodies are limited before anything parses them; streamed uploads set their own, larger limits.
  const jsonLimit = bodyLimit({
    maxSize: deps.config.HELDOUT_MAX_JSON_BYTES,
    onError: () => {
      throw new AppError(
        413,
        'payload_too_large',
        `the body is larger than ${deps.config.HELDOUT_MAX_JSON_BYTES} bytes`,
      );
    },
  });
  api
    // Who is calling is decided from the headers, before any body is read or limited.
    .use(authenticate(deps.database.db, deps.config))
    .use(anonymousBodies(deps.config))
    .use(async (c, next) =>
      c.req.header('content-type')?.includes('json') && !isStreamedUpload(c.req.method, c.req.path)
        ? jsonLimit(c, () => jsonDepthLimit(c, next))
        : next(),
    )
    .route('/', healthRoutes(deps))
    .route('/', projectRoutes(deps))
    .route('/', tokenRoutes(deps))
    .route('/', artifactRoutes(deps))
    .route('/', datasetRoutes(deps))
    .route('/', runRoutes(deps))
    .route('/', metricRoutes(deps))
    .route('/', pluginRoutes(deps))
    .route('/', checkpointRoutes(deps))
    .route('/', jobRoutes(deps))
    .route('/', preferenceRoutes(deps))
    .route('/', gateRoutes(deps))
    .route('/', registryRoutes(deps))
    .route('/', protectedAliasRoutes(deps))
    .route('/', suiteRoutes(deps))
    .route('/', leaderboardRoutes(deps))
    .route('/', runEvaluationRoutes(deps))
    .route('/', quickstartRoutes(deps))
    .route('/', evaluationViewRoutes(deps))
    .route('/', servingRoutes(deps));
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'heldout',
      version: deps.version,
      description: 'Evaluation-first experiment tracking for fine-tuned language models',
    },
  });

  const app = new Hono<AppEnv>()
    .use(requestId())
    .use(requestLog(deps.logger))
    .route('/api/v1', api);
  mountMlflow(app, deps);
  mountOpenAi(app, deps);
  return app
    .route('/', webRoutes())
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
