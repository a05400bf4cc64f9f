import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { closeUnreadBody } from '../http/anonymous-bodies.ts';
import { authenticate } from '../http/auth.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { requirePrincipal } from '../services/principal.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';
import { checkpointCacheDir } from './checkpoint-files.ts';
import { runCompletion, type ServeDeps } from './completions.ts';
import { OpenAiError, toOpenAiErrorResponse } from './errors.ts';
import { ServeLimiter } from './limiter.ts';
import { parseChat, parseCompletion } from './requests.ts';
import { listServedModels, resolveServedModel } from './resolve.ts';
import { ServingRecorder } from './stats.ts';

const once = <T>(fn: () => Promise<T>) => {
  let value: Promise<T> | undefined;
  // A failed load is not kept: the next request tries again.
  return () =>
    (value ??= fn().catch((err: unknown) => {
      value = undefined;
      throw err;
    }));
};

/**
 * The registry's models served over OpenAI's API under `/v1`: `GET /v1/models`,
 * `POST /v1/completions` and `POST /v1/chat/completions` (with `stream: true` as server-sent
 * events). The API key is a heldout token (Bearer); `model` is a registry name such as
 * `legal-assistant@production` (see resolve.ts for the rule). Errors are OpenAI's shape,
 * `{"error": {message, type, param, code}}`, so OpenAI's clients work unchanged.
 *
 * @example
 * mountOpenAi(app, deps); // on the top-level app, beside /api/v1
 * // new OpenAI({ baseURL: 'http://127.0.0.1:4242/v1', apiKey: 'hld_...' })
 */
export function mountOpenAi(app: Hono<AppEnv>, deps: AppDeps) {
  const { db } = deps.database;
  const serve: ServeDeps = {
    db,
    logger: deps.logger.child({ component: 'serve' }),
    limiter: new ServeLimiter(
      deps.config.HELDOUT_SERVE_CONCURRENCY,
      deps.config.HELDOUT_SERVE_QUEUE,
    ),
    // TensorFlow.js and the model code load on the first generation, not with the app: most
    // servers, and every test that builds an app, never generate (the import takes seconds).
    engine: once(async () => {
      const [{ ModelCache }, { generateText }] = await Promise.all([
        import('./models.ts'),
        import('./generation.ts'),
      ]);
      const models = new ModelCache({
        db,
        store: blobStoreFor(deps.config.dataDir),
        logger: deps.logger,
        max: deps.config.HELDOUT_SERVE_MAX_MODELS,
        cacheDir: checkpointCacheDir(deps.config.dataDir),
        failedLoadTtlMs: deps.config.HELDOUT_SERVE_LOAD_RETRY_SECONDS * 1000,
      });
      return { models, generateText };
    }),
    recorder: new ServingRecorder(db, deps.logger),
  };
  const json = async (c: { req: { json(): Promise<unknown> } }) => {
    try {
      return await c.req.json();
    } catch {
      throw new OpenAiError(400, 'the body must be JSON (Content-Type: application/json)', {
        code: 'invalid_json',
      });
    }
  };
  const v1 = new Hono<AppEnv>()
    // The caller is known from the headers before any body is read.
    .use(authenticate(db, deps.config))
    .use(async (c, next) => {
      // No anonymous generation, even with HELDOUT_PUBLIC_READ: it spends the server's CPU.
      if (!c.get('principal')) {
        closeUnreadBody(c);
        throw new OpenAiError(
          401,
          "You didn't provide an API key: send a heldout token as `Authorization: Bearer hld_...`",
          { code: 'missing_api_key' },
        );
      }
      return next();
    })
    .use(
      bodyLimit({
        maxSize: deps.config.HELDOUT_MAX_JSON_BYTES,
        onError: () => {
          throw new OpenAiError(
            413,
            `the body is larger than ${deps.config.HELDOUT_MAX_JSON_BYTES} bytes`,
            { code: 'payload_too_large' },
          );
        },
      }),
    )
    .get('/models', async (c) => {
      const principal = c.get('principal');
      requirePrincipal(principal);
      return c.json({ object: 'list', data: await listServedModels(db, principal) });
    })
    .get('/models/:model{.+}', async (c) => {
      const principal = c.get('principal');
      requirePrincipal(principal);
      const name = c.req.param('model');
      const served = await resolveServedModel(db, principal, name);
      return c.json({
        id: name,
        object: 'model',
        created: Math.floor(served.version.createdAt.getTime() / 1000),
        owned_by: served.project.name,
      });
    })
    .post('/completions', async (c) =>
      runCompletion(serve, c, { endpoint: 'completions', ...parseCompletion(await json(c)) }),
    )
    .post('/chat/completions', async (c) =>
      runCompletion(serve, c, { endpoint: 'chat.completions', ...parseChat(await json(c)) }),
    )
    .all('*', (c) => {
      throw new OpenAiError(404, `Unknown request URL: ${c.req.method} ${c.req.path}`, {
        code: 'unknown_url',
      });
    })
    .onError((err, c) => toOpenAiErrorResponse(err, c, deps.logger));
  app.route('/v1', v1);
  return serve;
}
