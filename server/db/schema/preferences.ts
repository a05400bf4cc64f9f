import { index, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { bigintRef, createdAt, serialId } from './columns.ts';
import { apiTokens, projectRef } from './projects.ts';

/**
 * Human rankings collected in heldout: who ranked which responses to which prompt, best first.
 * A preference dataset version is cut from them for reward models and DPO.
 */
export const preferences = pgTable(
  'preferences',
  {
    id: serialId(),
    projectId: projectRef(),
    prompt: text('prompt').notNull(),
    responses: jsonb('responses').$type<string[]>().notNull(),
    annotator: text('annotator'),
    createdByTokenId: bigintRef('created_by_token_id').references(() => apiTokens.id, {
      onDelete: 'set null',
    }),
    createdAt: createdAt(),
  },
  (t) => [index('preferences_project_idx').on(t.projectId, t.id)],
);
