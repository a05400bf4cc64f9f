import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { AppError, toErrorResponse } from '../http/errors.ts';
import type { AppEnv } from '../http/env.ts';

/** MLflow's error codes and the HTTP status its server answers each with. */
export const MLFLOW_STATUS = {
  INVALID_PARAMETER_VALUE: 400,
  BAD_REQUEST: 400,
  MALFORMED_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  INVALID_STATE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  RESOURCE_CONFLICT: 409,
  ENDPOINT_NOT_FOUND: 404,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL_ERROR: 500,
  TEMPORARILY_UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>;
export type MlflowCode = keyof typeof MLFLOW_STATUS;

/**
 * An error in MLflow's shape: `{"error_code", "message"}` with MLflow's status for the code.
 *
 * @example
 * throw new MlflowError('RESOURCE_DOES_NOT_EXIST', "Could not find experiment with name 'x'");
 */
export class MlflowError extends Error {
  override name = 'MlflowError';
  constructor(
    readonly code: MlflowCode,
    message: string,
  ) {
    super(message);
  }
}

// heldout's own errors, as MLflow would have named them. A conflict is mostly "already exists"
// (a name taken) in the calls MLflow clients make; the message says which.
const fromApp: Partial<Record<number, MlflowCode>> = {
  400: 'INVALID_PARAMETER_VALUE',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'RESOURCE_DOES_NOT_EXIST',
  409: 'INVALID_STATE',
  413: 'INVALID_PARAMETER_VALUE',
  429: 'RESOURCE_EXHAUSTED',
  503: 'TEMPORARILY_UNAVAILABLE',
};

/**
 * Any error thrown under the MLflow routes, answered in MLflow's shape. heldout's own handler
 * decides first (so database outages stay 503 with Retry-After and unexpected errors are logged
 * and hidden); this only renames its answer. MLflow clients retry 5xx, so a client mistake must
 * never become one.
 */
export async function toMlflowErrorResponse(err: unknown, c: Context<AppEnv>, logger: Logger) {
  if (err instanceof MlflowError)
    return c.json({ error_code: err.code, message: err.message }, MLFLOW_STATUS[err.code]);
  const native = toErrorResponse(err, c, logger);
  const body = (await native.json()) as { error: { code: string; message: string } };
  const status = native.status as ContentfulStatusCode;
  const code =
    err instanceof ZodError || (err instanceof HTTPException && status < 500)
      ? 'INVALID_PARAMETER_VALUE'
      : err instanceof AppError && err.status === 409 && /already/i.test(err.message)
        ? 'RESOURCE_ALREADY_EXISTS'
        : (fromApp[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST'));
  const retryAfter = native.headers.get('retry-after');
  if (retryAfter) c.header('Retry-After', retryAfter);
  // MLflow's status for the code (a heldout 409 conflict is MLflow's 400), but an outage or a bug
  // keeps its own 5xx, which tells clients to retry.
  return c.json(
    { error_code: code, message: body.error.message },
    status >= 500 ? status : MLFLOW_STATUS[code],
  );
}
