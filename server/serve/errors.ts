import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { toErrorResponse } from '../http/errors.ts';
import type { AppEnv } from '../http/env.ts';

/** OpenAI's error `type` for each status it answers with. */
const typeForStatus: Partial<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  429: 'requests',
};

/**
 * An error in OpenAI's shape, `{"error": {message, type, param, code}}`, so OpenAI's own clients
 * raise their usual exceptions (`BadRequestError`, `NotFoundError`, ...) with our message.
 *
 * @example
 * throw new OpenAiError(400, 'temperature: must be at most 2', { param: 'temperature' });
 */
export class OpenAiError extends Error {
  override name = 'OpenAiError';
  readonly param: string | null;
  readonly code: string | null;
  readonly type: string;
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    opts: { param?: string | null; code?: string | null; type?: string } = {},
  ) {
    super(message);
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.type = opts.type ?? typeForStatus[status] ?? (status >= 500 ? 'server_error' : 'error');
  }

  toJSON() {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

/** A parameter the request got wrong: 400, naming it as OpenAI does in `param`. */
export const badParam = (param: string, message: string, code = 'invalid_value') =>
  new OpenAiError(400, `${param}: ${message}`, { param, code });

/**
 * Anything thrown under `/v1`, answered in OpenAI's shape. heldout's own handler decides the
 * status first (so a database outage stays 503 with Retry-After, and unexpected errors are logged
 * and hidden); this only rewrites the body. OpenAI clients retry 429 and 5xx, so a client mistake
 * must never become one.
 */
export async function toOpenAiErrorResponse(err: unknown, c: Context<AppEnv>, logger: Logger) {
  if (err instanceof OpenAiError) return c.json(err.toJSON(), err.status);
  const native = toErrorResponse(err, c, logger);
  const body = (await native.json()) as { error: { code: string; message: string } };
  const status = native.status as ContentfulStatusCode;
  const retryAfter = native.headers.get('retry-after');
  if (retryAfter) c.header('Retry-After', retryAfter);
  // OpenAI's codes where it has one for the case; heldout's own (`payload_too_large`, ...) else.
  const code =
    status === 401 ? 'invalid_api_key' : status === 429 ? 'rate_limit_exceeded' : body.error.code;
  return c.json(new OpenAiError(status, body.error.message, { code }).toJSON(), status);
}
