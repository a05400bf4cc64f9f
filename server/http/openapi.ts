import { OpenAPIHono, type z } from '@hono/zod-openapi';
import type { AppEnv } from './env.ts';
import { errorBody } from '../schemas/common.ts';

/**
 * A router whose routes are declared with zod schemas: the same schemas validate requests and
 * describe them in /api/v1/openapi.json. Validation failures are thrown, not answered here, so
 * every 4xx goes through the one error handler and names the offending field.
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw result.error;
    },
  });
}

/** `request.body` for a required JSON body. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { 'application/json': { schema } } } as const;
}

/** A JSON response entry for `responses`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } } as const;
}

const error = (description: string) => jsonResponse(errorBody, description);

/** The error answers every authenticated route can give. */
export const errorResponses = {
  400: error('The request is malformed; the message names the field'),
  401: error('No valid bearer token'),
  403: error('The token may not do this in this project'),
  404: error('Not found'),
  409: error('Conflicts with what is stored; the message says with what'),
  413: error('The body or a batch is larger than the server accepts'),
} as const;

export const bearerSecurity = [{ bearerAuth: [] }];
