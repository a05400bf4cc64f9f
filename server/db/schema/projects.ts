import { sql } from 'drizzle-orm';
import { check, customType, index, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { at, bigintRef, createdAt, serialId } from './columns.ts';
import { tokenRole } from './enums.ts';

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

/** The namespace of everything else; an MLflow experiment maps to one project. */
export const projects = pgTable(
  'projects',
  {
    id: serialId(),
    name: text('name').notNull().unique(),
    description: text('description'),
    // Free-form key/value labels (MLflow's experiment tags).
    tags: jsonb('tags').$type<Record<string, string>>().notNull().default({}),
    createdAt: createdAt(),
    deletedAt: at('deleted_at'),
  },
  (t) => [check('projects_name_length', sql`length(${t.name}) between 1 and 200`)],
);

/** Every table hanging off a project is removed with it. */
export const projectRef = () =>
  bigintRef('project_id')
    .notNull()
    .references(() => projects.id, { onDelete: 'cascade' });

/**
 * API tokens are stored as a SHA-256 hash only; the token itself is shown once at creation.
 * `project_id` null means every project (the admin token made at first start).
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: serialId(),
    projectId: bigintRef('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    role: tokenRole('role').notNull(),
    // Token hashes are looked up on every request: a unique index makes that one probe.
    tokenHash: bytea('token_hash').notNull().unique(),
    // The first characters, so a person can tell tokens apart in a listing.
    prefix: text('prefix').notNull(),
    createdAt: createdAt(),
    lastUsedAt: at('last_used_at'),
    expiresAt: at('expires_at'),
    revokedAt: at('revoked_at'),
  },
  (t) => [index('api_tokens_project_idx').on(t.projectId)],
);
