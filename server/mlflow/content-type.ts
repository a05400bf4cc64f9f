import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../http/env.ts';
import { mediaType } from '../http/uploads.ts';
import { MlflowError } from './errors.ts';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a tracking call that is not declared JSON, as MLflow's own server does ("Content-Type
 * must be one of ['application/json']"). MLflow accepts Basic credentials, which a browser keeps
 * and sends by itself; a page on any site may POST `text/plain` or a form to this origin without
 * asking first, and it would be read as JSON and run as the user. `application/json` is what a
 * browser must ask permission for (a preflight, which heldout never grants), and what every MLflow
 * client sends. A bodiless POST is refused too: `{}` is a valid request to some calls.
 *
 * @example
 * tracking.use(requireJsonBody());
 */
export function requireJsonBody(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (READS.has(c.req.method)) return next();
    const type = mediaType(c);
    if (type === 'application/json' || /^application\/[\w.+-]+\+json$/.test(type ?? ''))
      return next();
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Bad Request. Content-Type must be one of ['application/json'] for ${c.req.method} ${c.req.path}, got ${type ? `'${type}'` : 'none'}`,
    );
  };
}
