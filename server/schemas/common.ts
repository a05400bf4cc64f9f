import { z } from '@hono/zod-openapi';

export const errorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_failed' }),
      message: z.string().openapi({ example: 'name: must not be empty' }),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

/** Keyset pagination: an opaque token naming where the next page starts. */
export const pageToken = z
  .string()
  .max(1000)
  .optional()
  .openapi({ description: 'nextPageToken of the previous page' });

export const limit = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .openapi({ description: `page size, at most ${max}` });

/** Project names start with a letter, so an all-digit path segment is always an id. */
export const projectName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9._-]{0,99}$/,
    'must start with a letter and hold at most 100 letters, digits, ".", "_" or "-"',
  );

export const projectParam = z.object({
  project: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be a project id or name')
    .openapi({ param: { name: 'project', in: 'path' }, description: 'project id or name' }),
});

export const runParam = z.object({
  runId: z.uuid('must be a UUID').openapi({ param: { name: 'runId', in: 'path' } }),
});

export const timestamp = z.iso.datetime().openapi({ example: '2026-11-28T12:00:00.000Z' });

/** How deep client JSON may nest (objects and arrays), in a run config or any field of a body. */
export const JSON_MAX_DEPTH = 64;

/**
 * Whether `value` nests at most `max` objects or arrays deep; iterative, so any depth is safe.
 *
 * @example
 * nestsAtMost({ a: [1] }, 2); // true
 */
export function nestsAtMost(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

/**
 * A free-form JSON object from a client (a run's config). Its depth is bounded: JSON.parse takes
 * any depth, but JSON.stringify (on the way to a jsonb column) overflows the stack near 5000.
 */
export const jsonObject = z
  .record(z.string(), z.unknown())
  .refine((v) => nestsAtMost(v, JSON_MAX_DEPTH), `must nest at most ${JSON_MAX_DEPTH} levels deep`);
