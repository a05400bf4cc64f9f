import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { anonymousBodies } from '../http/anonymous-bodies.ts';
import { authenticate } from '../http/auth.ts';
import { AppError } from '../http/errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { mlflowArtifactListRoutes, mlflowArtifactRoutes } from './artifacts.ts';
import { requireJsonBody } from './content-type.ts';
import { MlflowError, toMlflowErrorResponse } from './errors.ts';
import { mlflowModelVersionRoutes } from './model-versions.ts';
import { mlflowRegisteredModelRoutes } from './registered-models.ts';
import { mlflowExperimentRoutes } from './experiments.ts';
import { mlflowMetricRoutes } from './metrics.ts';
import { mlflowRunSearchRoutes } from './run-search.ts';
import { mlflowRunRoutes } from './runs.ts';
import { mlflowLoggedModelRoutes } from './logged-models.ts';

/** One group of MLflow routes, relative to `/api/2.0/mlflow` (or `/mlflow-artifacts`). */
export type MlflowRoutes = (deps: AppDeps) => Hono<AppEnv>;

// Each group of MLflow calls lives in its own file and is listed here.
const trackingRoutes: MlflowRoutes[] = [
  // tracking routes
  mlflowRegisteredModelRoutes,
  mlflowModelVersionRoutes,
  mlflowExperimentRoutes,
  mlflowRunRoutes,
  mlflowRunSearchRoutes,
  mlflowMetricRoutes,
  mlflowArtifactListRoutes,
  mlflowLoggedModelRoutes,
];
const artifactRoutes: MlflowRoutes[] = [
  // artifact routes
  mlflowArtifactRoutes,
];

/**
 * MLflow's REST API 2.0 as a thin adapter over heldout's services: the same projects, runs,
 * metrics, registry and artifacts, spoken in MLflow's wire format, under `/api/2.0/mlflow/` and
 * the `/ajax-api/2.0/mlflow/` aliases its UI uses (and the same for `mlflow-artifacts`).
 * `MLFLOW_TRACKING_TOKEN` is a heldout token (Bearer); `MLFLOW_TRACKING_USERNAME` /
 * `MLFLOW_TRACKING_PASSWORD` work too, with the token as the password.
 *
 * @example
 * mountMlflow(app, deps); // on the top-level app, beside /api/v1
 */
export function mountMlflow(app: Hono<AppEnv>, deps: AppDeps) {
  // Tracking calls read their whole JSON body, so it is limited as /api/v1's is; the artifact
  // routes stream their bodies under their own limit.
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
  const jsonOnly = requireJsonBody();
  const group = (routes: MlflowRoutes[], { streamed }: { streamed: boolean }) => {
    const sub = new Hono<AppEnv>()
      .use(async (c, next) => {
        // Basic auth as MLflow clients send it: any user name, the heldout token as password.
        const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(c.req.header('authorization') ?? '');
        if (basic) {
          const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
          const token = decoded.slice(decoded.indexOf(':') + 1);
          c.req.raw.headers.set('authorization', `Bearer ${token}`);
        }
        return next();
      })
      .use(authenticate(deps.database.db, deps.config))
      // Decided from the headers: who calls, what they may send, and only then the body.
      .use(anonymousBodies(deps.config))
      .use((c, next) => (streamed ? next() : jsonOnly(c, next)))
      .use((c, next) => (streamed ? next() : jsonLimit(c, next)));
    for (const r of routes) sub.route('/', r(deps));
    return sub
      .all('*', (c) => {
        // JSON, never the UI's HTML page: clients parse whatever comes back.
        throw new MlflowError(
          'ENDPOINT_NOT_FOUND',
          `No API endpoint for ${c.req.method} ${c.req.path}`,
        );
      })
      .onError((err, c) => toMlflowErrorResponse(err, c, deps.logger));
  };
  const tracking = group(trackingRoutes, { streamed: false });
  const artifacts = group(artifactRoutes, { streamed: true });
  for (const prefix of ['/api/2.0', '/ajax-api/2.0']) {
    app.route(`${prefix}/mlflow`, tracking);
    app.route(`${prefix}/mlflow-artifacts`, artifacts);
  }
  return app;
}
