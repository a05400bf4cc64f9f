import type { Context } from 'hono';
import type { z } from 'zod';
import type { AppEnv } from '../http/env.ts';
import { tooDeepField } from '../http/json-depth.ts';
import { JSON_MAX_DEPTH } from '../schemas/common.ts';
import { MlflowError } from './errors.ts';

/**
 * A request's parameters as MLflow clients send them: a JSON body for POST, PATCH and DELETE, the
 * query string for GET (a repeated key is a list). Validated by `schema`; a problem becomes
 * INVALID_PARAMETER_VALUE naming the field, as MLflow's server words it.
 *
 * @example
 * const { experiment_id } = await params(c, z.object({ experiment_id: z.string() }));
 */
export async function params<S extends z.ZodType>(
  c: Context<AppEnv>,
  schema: S,
): Promise<z.infer<S>> {
  let raw: unknown;
  if (c.req.method === 'GET') {
    const all = c.req.queries();
    raw = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
  } else {
    const text = await c.req.text();
    try {
      raw = text.trim() ? JSON.parse(text) : {};
    } catch {
      throw new MlflowError('MALFORMED_REQUEST', 'the request body is not valid JSON');
    }
    // Before the schema sees it: a recursive one overflows its stack on a body nested ~1000 deep.
    const deep = tooDeepField(text);
    if (deep)
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `Invalid value for parameter '${deep}': must nest at most ${JSON_MAX_DEPTH} levels deep`,
      );
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'request';
  throw new MlflowError(
    'INVALID_PARAMETER_VALUE',
    `Invalid value for parameter '${field}': ${issue.message}`,
  );
}

/** MLflow's success: always 200, `{}` for writes. */
export function ok(c: Context<AppEnv>, body: object = {}) {
  return c.json(body, 200);
}

/** Metric values on the wire: NaN and the infinities as MLflow's strings. */
export function wireNumber(v: number): number | string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}
