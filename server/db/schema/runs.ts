import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { at, bigintRef, createdAt, publicId, serialId } from './columns.ts';
import { datasetVersions } from './datasets.ts';
import { checkpointKind, runDatasetRole, runStatus } from './enums.ts';
import { apiTokens, projectRef } from './projects.ts';

/**
 * One training job (plugin run) or an externally logged run (MLflow client, notebook). Runs and
 * checkpoints live in one file because each references the other: a run starts from a base
 * checkpoint and produces checkpoints.
 */
export const runs = pgTable(
  'runs',
  {
    id: publicId(),
    projectId: projectRef(),
    name: text('name').notNull(),
    status: runStatus('status').notNull().default('queued'),
    // `name@version` of the trainer plugin; null for externally logged runs.
    plugin: text('plugin'),
    pluginVersion: text('plugin_version'),
    config: jsonb('config'),
    baseCheckpointId: uuid('base_checkpoint_id').references((): AnyPgColumn => checkpoints.id, {
      onDelete: 'set null',
    }),
    parentRunId: uuid('parent_run_id').references((): AnyPgColumn => runs.id, {
      onDelete: 'set null',
    }),
    // Compute backend and device, recorded so results can be compared like with like.
    backend: text('backend'),
    device: text('device'),
    error: text('error'),
    createdByTokenId: bigintRef('created_by_token_id').references(() => apiTokens.id, {
      onDelete: 'set null',
    }),
    createdAt: createdAt(),
    startedAt: at('started_at'),
    endedAt: at('ended_at'),
    deletedAt: at('deleted_at'),
  },
  (t) => [
    index('runs_project_created_idx').on(t.projectId, t.createdAt.desc(), t.id),
    index('runs_parent_idx').on(t.parentRunId),
  ],
);

/**
 * Params are immutable once set, so (run, key) is the whole identity. No index on the value: values
 * run to 6,000 characters, past what a btree entry holds, and search reaches params by run.
 */
export const runParams = pgTable(
  'run_params',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] })],
);

export const runTags = pgTable(
  'run_tags',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] })],
);

export const runDatasets = pgTable(
  'run_datasets',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    datasetVersionId: bigintRef('dataset_version_id')
      .notNull()
      .references(() => datasetVersions.id, { onDelete: 'restrict' }),
    role: runDatasetRole('role').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.datasetVersionId, t.role] }),
    index('run_datasets_version_idx').on(t.datasetVersionId),
  ],
);

/**
 * Weights in safetensors plus config. A base model is a checkpoint no run produced; an adapter
 * names the checkpoint it applies to in `base_checkpoint_id`.
 */
export const checkpoints = pgTable(
  'checkpoints',
  {
    id: publicId(),
    projectId: projectRef(),
    runId: uuid('run_id').references((): AnyPgColumn => runs.id, { onDelete: 'cascade' }),
    name: text('name'),
    kind: checkpointKind('kind').notNull(),
    baseCheckpointId: uuid('base_checkpoint_id').references((): AnyPgColumn => checkpoints.id, {
      onDelete: 'restrict',
    }),
    step: bigint('step', { mode: 'number' }),
    sha256: text('sha256').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    trainableParams: bigint('trainable_params', { mode: 'number' }),
    totalParams: bigint('total_params', { mode: 'number' }),
    storageKey: text('storage_key').notNull(),
    modelConfig: jsonb('model_config').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    // A resumed run re-registers its last checkpoint: the step identifies it within the run.
    uniqueIndex('checkpoints_run_step_uq')
      .on(t.runId, t.step)
      .where(sql`${t.runId} is not null`),
    index('checkpoints_project_idx').on(t.projectId, t.createdAt),
    index('checkpoints_sha_idx').on(t.sha256),
  ],
);

export const artifacts = pgTable(
  'artifacts',
  {
    id: serialId(),
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    path: text('path').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    contentType: text('content_type'),
    storageKey: text('storage_key').notNull(),
    createdAt: createdAt(),
  },
  (t) => [unique('artifacts_run_path_uq').on(t.runId, t.path)],
);
