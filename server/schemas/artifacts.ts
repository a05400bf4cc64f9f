import { z } from '@hono/zod-openapi';
import { limit, pageToken, timestamp } from './common.ts';

// Decoded this many times at most when looking for a hidden "..": enough for any double or
// triple encoding a proxy chain produces, bounded so a crafted path cannot loop.
const MAX_DECODES = 4;

function decodedForms(value: string): string[] {
  const forms = [value];
  let current = value;
  for (let i = 0; i < MAX_DECODES && current.includes('%'); i++) {
    try {
      const next = decodeURIComponent(current);
      if (next === current) break;
      forms.push(next);
      current = next;
    } catch {
      break; // a literal "%" (say "100%.txt") is a fine file name
    }
  }
  return forms;
}

/**
 * Why `value` is not a safe relative artifact path, or undefined when it is. Looks through up to
 * four rounds of percent-decoding, so an encoded or double-encoded ".." is found too.
 *
 * @example
 * pathProblem('a/%252e%252e/b', { prefix: false }); // 'must not contain "." or ".." segments'
 */
export function pathProblem(value: string, { prefix }: { prefix: boolean }): string | undefined {
  for (const form of decodedForms(value)) {
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (/[\u0000-\u001f\u007f-\u009f]/.test(form)) return 'must not contain control characters';
    if (form.includes('\\')) return 'must use "/" as the separator, not "\\"';
    if (form.startsWith('/') || /^[A-Za-z]:/.test(form)) return 'must be relative, not absolute';
    const segments = form.split('/');
    // A prefix may end with "/" ("checkpoints/"), which leaves one empty last segment.
    if (prefix && segments.length > 1 && segments.at(-1) === '') segments.pop();
    if (segments.some((s) => s === '..' || s === '.'))
      return 'must not contain "." or ".." segments';
    if (segments.some((s) => s === '')) return 'must not contain empty segments ("//")';
  }
  return undefined;
}

const safePath = (kind: 'path' | 'prefix') =>
  z
    .string()
    .min(kind === 'path' ? 1 : 0, 'must not be empty')
    .max(1024, 'must be at most 1024 characters')
    .superRefine((value, ctx) => {
      if (kind === 'prefix' && value === '') return;
      const problem = pathProblem(value, { prefix: kind === 'prefix' });
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

export const artifactPathQuery = z.object({
  path: safePath('path').openapi({
    param: { name: 'path', in: 'query' },
    description: 'relative path inside the run, "/"-separated, e.g. plots/loss.png',
    example: 'eval/samples.jsonl',
  }),
});

export const listArtifactsQuery = z.object({
  prefix: safePath('prefix')
    .optional()
    .openapi({ param: { name: 'prefix', in: 'query' }, example: 'eval/' }),
  limit: limit(1000, 100).openapi({ param: { name: 'limit', in: 'query' } }),
  pageToken: pageToken.openapi({ param: { name: 'pageToken', in: 'query' } }),
});

export const artifact = z
  .object({
    runId: z.uuid(),
    path: z.string(),
    sizeBytes: z.number().int(),
    sha256: z.string().openapi({ example: 'e3b0c44298fc1c149afbf4c8996fb924...' }),
    contentType: z.string().nullable(),
    createdAt: timestamp,
  })
  .openapi('Artifact');

export const artifactList = z
  .object({
    artifacts: z.array(artifact),
    nextPageToken: z.string().nullable().openapi({ description: 'null on the last page' }),
  })
  .openapi('ArtifactList');

/** A raw body in the OpenAPI document; the route reads the stream itself, nothing validates it. */
export const binaryBody = z.string().openapi({ type: 'string', format: 'binary' });

export type Artifact = z.infer<typeof artifact>;
export type ArtifactList = z.infer<typeof artifactList>;
