import { boolean, index, integer, pgTable, real, text } from 'drizzle-orm/pg-core';
import { bigintRef, createdAt, serialId } from './columns.ts';
import { modelVersions } from './registry.ts';

/**
 * One request served over the OpenAI-compatible API (`/v1`), by the model version it resolved
 * to: the serving latency and throughput the registry shows per version. One narrow row per
 * request (about 100 bytes with its index), written in batches after the answer, so percentiles
 * over any window are exact.
 */
export const servingRequests = pgTable(
  'serving_requests',
  {
    id: serialId(),
    modelVersionId: bigintRef('model_version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'cascade' }),
    // `completions` or `chat.completions`.
    endpoint: text('endpoint').notNull(),
    stream: boolean('stream').notNull(),
    // `stop`, `length`, `cancelled` (the client went away), `refused` (the prompt did not fit)
    // or `error`.
    outcome: text('outcome').notNull(),
    promptTokens: integer('prompt_tokens').notNull(),
    completionTokens: integer('completion_tokens').notNull(),
    // Waiting for a free slot; then from the slot to the first token, and to the last one.
    queueMs: real('queue_ms').notNull(),
    firstTokenMs: real('first_token_ms'),
    totalMs: real('total_ms').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('serving_requests_version_idx').on(t.modelVersionId, t.createdAt)],
);
