import type { Context } from 'hono';
import type { AppEnv } from './env.ts';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { pgErrorCode } from '../db/errors.ts';

export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/**
 * An error that knows its HTTP answer. Services throw these (they never build responses), and
 * the one handler below turns them into `{"error": {code, message, details?}}`.
 *
 * @example
 * throw new AppError(409, 'conflict', 'param "lr" is already 0.1, not 0.2', { key: 'lr' });
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);

const codeForStatus: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  429: 'rate_limited',
  503: 'unavailable',
};

// postgres.js connection failures: the database is away, which is neither the client's fault nor
// a bug, so the client is told to come back rather than given a 500.
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01', // admin_shutdown
  // A backend crashed and Postgres restarts every session; usually the socket is just reset
  // (ECONNRESET), but the message is sent when it can be (test/server/db-restart.test.ts).
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
]);

/**
 * One `{path, message}` per problem. A bad record key is reported by zod as "Invalid key in
 * record" with the real reason nested; we lift that reason up and name the key.
 */
// Data errors Postgres raises on a value the client sent, which validation should already have
// stopped; if one slips through, it is still the client's mistake and never a 500.
const clientDataCodes: Record<string, string> = {
  '22021': 'text must be valid UTF-8 without NUL characters',
  '22P05': 'text must be valid UTF-8 without NUL characters',
  '22003': 'a number is out of range',
  '54000': 'a value is too large to store',
};

function zodDetails(err: ZodError): { path: string; message: string }[] {
  return err.issues.map((i) => {
    const nested = i.code === 'invalid_key' ? i.issues[0]?.message : undefined;
    if (nested === undefined) return { path: i.path.join('.'), message: i.message };
    const key = i.path[i.path.length - 1];
    return {
      path: i.path.slice(0, -1).join('.'),
      message: `key ${JSON.stringify(String(key))} ${nested}`,
    };
  });
}

/** Maps anything thrown to a response. Unexpected errors are logged and never shown in detail. */
export function toErrorResponse(err: unknown, c: Context<AppEnv>, logger: Logger): Response {
  let status: ContentfulStatusCode = 500;
  let body: { code: ErrorCode; message: string; details?: unknown };
  if (err instanceof AppError) {
    status = err.status;
    body = { code: err.code, message: err.message, details: err.details };
  } else if (err instanceof ZodError) {
    status = 400;
    const details = zodDetails(err);
    const first = details[0];
    const where = first?.path ? `${first.path}: ` : '';
    body = {
      code: 'validation_failed',
      message: `${where}${first?.message ?? 'invalid input'}`,
      details,
    };
  } else if (err instanceof HTTPException) {
    status = err.status as ContentfulStatusCode;
    body = {
      code: codeForStatus[status] ?? (status < 500 ? 'bad_request' : 'internal'),
      message: err.message || 'request failed',
    };
  } else if (clientDataCodes[pgErrorCode(err) ?? '']) {
    status = 400;
    body = { code: 'bad_request', message: clientDataCodes[pgErrorCode(err)!]! };
    logger.warn({ err, reqId: c.get('requestId') }, 'database refused a client value');
  } else if (pgErrorCode(err) === '57014') {
    // query_canceled: the statement ran past HELDOUT_STATEMENT_TIMEOUT_MS (or an operator cancelled
    // it). Postgres is up but this work did not finish; the connection is free again.
    status = 503;
    body = {
      code: 'unavailable',
      message:
        'the database did not finish this request in time (statement timeout); retry shortly or ask for less',
    };
    c.header('Retry-After', '5');
    logger.warn({ err, reqId: c.get('requestId') }, 'statement timeout');
  } else if (unavailableCodes.has(pgErrorCode(err) ?? '')) {
    status = 503;
    body = { code: 'unavailable', message: 'the database is unavailable; retry shortly' };
    c.header('Retry-After', '2');
    logger.warn({ err, reqId: c.get('requestId') }, 'database unavailable');
  } else {
    body = { code: 'internal', message: 'internal error' };
    logger.error({ err, reqId: c.get('requestId') }, 'unhandled error');
  }
  return c.json({ error: body }, status);
}
