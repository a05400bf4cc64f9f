import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  timestamp,
  pgTable,
  primaryKey,
  text,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { bigintRef, createdAt, publicId, serialId } from './columns.ts';
import { verdictOutcome } from './enums.ts';
import { apiTokens, projectRef } from './projects.ts';
import { checkpoints, runs } from './runs.ts';

/** A named promotion policy; editing one creates a new version, so old verdicts stay explicable. */
export const gates = pgTable(
  'gates',
  {
    id: serialId(),
    projectId: projectRef(),
    name: text('name').notNull(),
    version: integer('version').notNull(),
    policy: jsonb('policy').notNull(),
    description: text('description'),
    // Who saved this version: only a gate an admin saved can become an alias's gate unasked.
    createdByTokenId: bigintRef('created_by_token_id').references(() => apiTokens.id, {
      onDelete: 'set null',
    }),
    createdAt: createdAt(),
  },
  (t) => [unique('gates_name_version_uq').on(t.projectId, t.name, t.version)],
);

export const models = pgTable(
  'models',
  {
    id: serialId(),
    projectId: projectRef(),
    name: text('name').notNull(),
    description: text('description'),
    tags: jsonb('tags').$type<Record<string, string>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique('models_project_name_uq').on(t.projectId, t.name)],
);

export const modelVersions = pgTable(
  'model_versions',
  {
    id: serialId(),
    modelId: bigintRef('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    checkpointId: uuid('checkpoint_id')
      .notNull()
      .references(() => checkpoints.id, { onDelete: 'restrict' }),
    runId: uuid('run_id').references(() => runs.id, { onDelete: 'set null' }),
    description: text('description'),
    tags: jsonb('tags').$type<Record<string, string>>().notNull().default({}),
    // What MLflow clients call a version's source (an artifact URI) and its stage.
    source: text('source'),
    stage: text('stage').notNull().default('None'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique('model_versions_version_uq').on(t.modelId, t.version)],
);

/** A gate decision for exactly one model version, with every check's evidence. */
export const verdicts = pgTable(
  'verdicts',
  {
    id: publicId(),
    gateId: bigintRef('gate_id')
      .notNull()
      .references(() => gates.id, { onDelete: 'restrict' }),
    modelVersionId: bigintRef('model_version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'cascade' }),
    outcome: verdictOutcome('outcome').notNull(),
    // Per check: kind, observed value, baseline, threshold, p-value, outcome.
    checks: jsonb('checks').notNull(),
    // The weights the evidence was about: a promotion checks it still names the version's.
    checkpointSha256: text('checkpoint_sha256'),
    createdByTokenId: bigintRef('created_by_token_id').references(() => apiTokens.id, {
      onDelete: 'set null',
    }),
    createdAt: createdAt(),
  },
  (t) => [index('verdicts_version_idx').on(t.modelVersionId, t.gateId)],
);

export const modelAliases = pgTable(
  'model_aliases',
  {
    modelId: bigintRef('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    alias: text('alias').notNull(),
    modelVersionId: bigintRef('model_version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'restrict' }),
    updatedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.alias] })],
);

/** The audit trail of alias moves: who, when, from which version to which, on which verdict. */
export const promotions = pgTable(
  'promotions',
  {
    id: serialId(),
    modelId: bigintRef('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    alias: text('alias').notNull(),
    fromVersionId: bigint('from_version_id', { mode: 'number' }).references(
      () => modelVersions.id,
      { onDelete: 'set null' },
    ),
    toVersionId: bigintRef('to_version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'restrict' }),
    verdictId: uuid('verdict_id').references(() => verdicts.id, { onDelete: 'restrict' }),
    actorTokenId: bigintRef('actor_token_id').references(() => apiTokens.id, {
      onDelete: 'set null',
    }),
    reason: text('reason'),
    createdAt: createdAt(),
  },
  (t) => [index('promotions_model_alias_idx').on(t.modelId, t.alias, t.createdAt)],
);

/**
 * Which alias names of a project are protected, and the gate version bound to each: the one place
 * protection is stored (services/alias-protection.ts reads it). `production` is protected without
 * a row (see services/alias-protection.ts); a row overrides that default.
 * Only an admin writes rows, except the first promotion to an unbound protected alias, which binds
 * the gate it passed.
 */
export const aliasProtections = pgTable(
  'alias_protections',
  {
    projectId: projectRef(),
    alias: text('alias').notNull(),
    protected: boolean('protected').notNull().default(true),
    // A pinned gate version (one row of `gates`), not a gate name.
    gateId: bigint('gate_id', { mode: 'number' }).references(() => gates.id, {
      onDelete: 'restrict',
    }),
    updatedByTokenId: bigintRef('updated_by_token_id').references(() => apiTokens.id, {
      onDelete: 'set null',
    }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.alias] })],
);
