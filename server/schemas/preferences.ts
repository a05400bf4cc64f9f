import { z } from '@hono/zod-openapi';
import { limit, pageToken, projectName } from './common.ts';

const response = z.string().min(1, 'must not be empty').max(20_000);

export const recordPreferenceBody = z
  .object({
    project: z.string().min(1).max(100).openapi({ description: 'project id or name' }),
    prompt: z.string().min(1, 'must not be empty').max(20_000),
    responses: z
      .array(response)
      .min(2, 'must rank at least 2 responses')
      .max(20, 'must rank at most 20 responses')
      .optional()
      .openapi({ description: 'best first' }),
    chosen: response.optional(),
    rejected: response.optional(),
    annotator: z.string().min(1).max(200).optional().openapi({
      description:
        "who ranked them: the token's own identity (name#id) when absent; only an admin may name someone else",
    }),
  })
  .superRefine((b, ctx) => {
    if (b.responses) {
      if (b.chosen !== undefined || b.rejected !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['responses'],
          message: 'give responses or chosen and rejected, not both',
        });
      return;
    }
    for (const field of ['chosen', 'rejected'] as const)
      if (b[field] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: 'required (or give "responses", best first)',
        });
  })
  .openapi('RecordPreference');

export const preference = z
  .object({
    id: z.number().int(),
    projectId: z.number().int(),
    prompt: z.string(),
    responses: z.array(z.string()),
    annotator: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Preference');
export type Preference = z.infer<typeof preference>;

export const listPreferencesQuery = z.object({ limit: limit(10_000, 100), pageToken });

export const cutPreferencesBody = z
  .object({
    dataset: projectName.openapi({ description: 'the preference dataset to add a version to' }),
  })
  .openapi('CutPreferences');
