import { z } from '@hono/zod-openapi';
import { suiteName } from './suites.ts';

export const ratingParam = z.object({
  evaluationId: z.uuid('must be a UUID').openapi({ param: { name: 'evaluationId', in: 'path' } }),
  caseId: z
    .string()
    .min(1)
    .max(1000)
    .openapi({ param: { name: 'caseId', in: 'path' } }),
});

const annotator = z.string().trim().min(1, 'must not be empty').max(200).optional().openapi({
  description:
    "who rates: the token's own identity (name#id) when absent; only an admin may name someone else",
});

export const rateCaseBody = z
  .object({
    rating: z.number().int('must be a whole number').min(1).max(5).openapi({ description: '1-5' }),
    annotator,
  })
  .openapi('RateCase');

export const deleteRatingQuery = z.object({ annotator });

const aggregate = z.object({
  value: z.number(),
  low: z.number(),
  high: z.number(),
  confidence: z.number(),
  n: z.number().int().openapi({ description: 'rated cases' }),
  metricVersion: z.string(),
});

export const caseRating = z
  .object({
    evaluationId: z.uuid(),
    caseId: z.string(),
    annotator: z.string(),
    rating: z.number().int().optional().openapi({ description: 'absent after a delete' }),
    createdAt: z.string().optional(),
    case: z
      .object({ mean: z.number(), n: z.number().int() })
      .nullable()
      .openapi({ description: "the case's mean rating over its annotators" }),
    humanRating: aggregate
      .nullable()
      .openapi({ description: "the evaluation's human_rating aggregate, now" }),
  })
  .openapi('CaseRating');

export const ratingPreferencesBody = z
  .object({
    suite: suiteName,
    suiteVersion: z.number().int().min(1).optional().openapi({ description: 'default: newest' }),
  })
  .openapi('RatingPreferences');

export const ratingPreferencesResult = z
  .object({
    suite: z.string(),
    suiteVersion: z.number().int(),
    annotator: z.string().openapi({ description: 'what the recorded preferences are marked with' }),
    pairs: z.number().int(),
    recorded: z.number().int(),
    alreadyRecorded: z.number().int(),
    withoutInput: z.number().int().openapi({ description: 'pairs whose case row is missing' }),
  })
  .openapi('RatingPreferencesResult');
