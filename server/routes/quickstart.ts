import type { HttpBindings } from '@hono/node-server';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HeldoutClient } from '../client/index.ts';
import { AppError } from '../http/errors.ts';
import type { AppDeps } from '../http/env.ts';
import {
  bearerSecurity,
  createRouter,
  errorResponses,
  jsonBody,
  jsonResponse,
} from '../http/openapi.ts';
import { projectName } from '../schemas/common.ts';
import { authorize } from '../services/principal.ts';
import { findProjectAny } from '../services/projects.ts';
import { runQuickstart, type QuickstartEvent } from '../quickstart/quickstart.ts';

const startBody = z
  .object({
    project: projectName.default('bank-support'),
    scale: z.enum(['full', 'short']).default('full'),
  })
  .openapi('StartQuickstart');

const state = z
  .object({
    status: z.enum(['idle', 'running', 'finished', 'failed']),
    project: z.string().nullable(),
    events: z.array(z.record(z.string(), z.unknown())).openapi({ description: 'the last 100' }),
    promoted: z.object({ version: z.number().int(), method: z.string() }).nullable(),
    error: z.string().nullable(),
  })
  .openapi('Quickstart');
type State = z.infer<typeof state>;

const MAX_EVENTS = 100;
const IDLE: State = { status: 'idle', project: null, events: [], promoted: null, error: null };

/**
 * Where this server listens, from the request's own connection. Never the request's URL: its host
 * is the Host header, which the client chooses, and would aim the server's requests (carrying the
 * caller's token) at any machine the server can reach. Without a socket (`app.request` in tests),
 * the configured address.
 */
function selfOrigin(c: Context, deps: AppDeps): string {
  const socket = (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket;
  const host = socket?.localAddress ?? deps.config.HOST;
  const port = socket?.localPort ?? deps.config.PORT;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The UI's "run the quickstart" on an empty server: the same flow as `heldout quickstart`, run by
 * the server against itself with the caller's token, one at a time. Its progress lives in memory
 * (the runs, evaluations and verdicts it makes are in the database like any others).
 */
export function quickstartRoutes(deps: AppDeps) {
  let current: State = IDLE;
  return createRouter()
    .openapi(
      createRoute({
        method: 'post',
        path: '/quickstart',
        tags: ['quickstart'],
        security: bearerSecurity,
        summary: 'Start the quickstart project (an admin token; one at a time)',
        request: { body: jsonBody(startBody) },
        responses: { 202: jsonResponse(state, 'Started'), ...errorResponses },
      }),
      async (c) => {
        authorize(c.get('principal'), null, 'admin');
        if (current.status === 'running')
          throw new AppError(
            409,
            'conflict',
            `the quickstart is already building ${current.project}`,
          );
        const body = c.req.valid('json');
        const token = /^Bearer\s+(\S+)/i.exec(c.req.header('authorization') ?? '')![1]!;
        const server = selfOrigin(c, deps);
        const run: State = {
          status: 'running',
          project: body.project,
          events: [],
          promoted: null,
          error: null,
        };
        current = run;
        const onEvent = (e: QuickstartEvent) => {
          run.events.push(e);
          if (run.events.length > MAX_EVENTS) run.events.shift();
        };
        const client = new HeldoutClient({ baseUrl: server, token });
        void runQuickstart(client, {
          server,
          token,
          project: body.project,
          scale: body.scale,
          onEvent,
        }).then(
          (result) => {
            run.status = 'finished';
            run.promoted = result.promoted ?? null;
          },
          (err: unknown) => {
            run.status = 'failed';
            run.error = (err as Error).message ?? String(err);
            deps.logger.warn({ err }, 'quickstart failed');
          },
        );
        return c.json(run, 202);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/quickstart',
        tags: ['quickstart'],
        security: bearerSecurity,
        summary:
          "The quickstart's progress, to global tokens and tokens of the project it builds (to others, idle)",
        responses: {
          200: jsonResponse(state, 'Idle, running, finished or failed'),
          ...errorResponses,
        },
      }),
      async (c) => {
        const principal = c.get('principal');
        if (!principal && !deps.config.HELDOUT_PUBLIC_READ)
          throw new AppError(
            401,
            'unauthorized',
            'a token is needed (Authorization: Bearer <token>)',
          );
        // Its events are the project's runs, verdicts and gate output: shown to whoever may read
        // every project (a global token, or anyone under HELDOUT_PUBLIC_READ) and to tokens of the
        // project it builds. A token of another project sees no quickstart at all, not even which
        // project one builds.
        if (principal?.projectId != null) {
          const own = await findProjectAny(deps.database.db, { id: principal.projectId });
          if (own?.name !== current.project) return c.json(IDLE, 200);
        }
        return c.json(current, 200);
      },
    );
}
