import { bigint, index, integer, jsonb, pgTable, text, unique } from 'drizzle-orm/pg-core';
import { bigintRef, createdAt, serialId } from './columns.ts';
import { datasetKind } from './enums.ts';
import { apiTokens, projectRef } from './projects.ts';

export const datasets = pgTable(
  'datasets',
  {
    id: serialId(),
    projectId: projectRef(),
    name: text('name').notNull(),
    kind: datasetKind('kind').notNull(),
    description: text('description'),
    createdAt: createdAt(),
  },
  (t) => [unique('datasets_project_name_uq').on(t.projectId, t.name)],
);

/** Immutable and content-addressed: uploading the same bytes twice yields the same version. */
export const datasetVersions = pgTable(
  'dataset_versions',
  {
    id: serialId(),
    datasetId: bigintRef('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    sha256: text('sha256').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    rowCount: integer('row_count').notNull(),
    storageKey: text('storage_key').notNull(),
    // Empty rows, exact and near duplicates, length outliers: computed once at upload.
    cleaningReport: jsonb('cleaning_report').notNull(),
    createdByTokenId: bigintRef('created_by_token_id').references(() => apiTokens.id, {
      onDelete: 'set null',
    }),
    createdAt: createdAt(),
  },
  (t) => [
    unique('dataset_versions_version_uq').on(t.datasetId, t.version),
    unique('dataset_versions_sha_uq').on(t.datasetId, t.sha256),
    index('dataset_versions_sha_idx').on(t.sha256),
  ],
);
