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
