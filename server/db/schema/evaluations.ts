import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  smallint,
  text,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { at, bigintRef, createdAt, publicId, serialId } from './columns.ts';
import { datasetVersions } from './datasets.ts';
import { detectorKind, evaluationStatus, severity, suitePurpose } from './enums.ts';
import { projectRef } from './projects.ts';
import { checkpoints, runs } from './runs.ts';

/** A benchmark: a named regression suite with a purpose. Only active suites gate promotions. */
export const suites = pgTable(
  'suites',
  {
    id: serialId(),
    projectId: projectRef(),
    name: text('name').notNull(),
    purpose: suitePurpose('purpose').notNull(),
    active: boolean('active').notNull().default(true),
    description: text('description'),
    createdAt: createdAt(),
  },
  (t) => [unique('suites_project_name_uq').on(t.projectId, t.name)],
);

/** Frozen cases (an `eval` dataset version) plus the metrics and decoding used to score them. */
export const suiteVersions = pgTable(
  'suite_versions',
  {
    id: serialId(),
    suiteId: bigintRef('suite_id')
      .notNull()
      .references(() => suites.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    datasetVersionId: bigintRef('dataset_version_id')
      .notNull()
      .references(() => datasetVersions.id, { onDelete: 'restrict' }),
    metrics: jsonb('metrics').notNull(),
    decoding: jsonb('decoding').notNull(),
    // Evaluations are only comparable under identical decoding: the hash makes that a key.
    decodingHash: text('decoding_hash').notNull(),
    // A case passes when the first metric reaches this: what pass->fail flips are counted by.
    passThreshold: real('pass_threshold').notNull().default(1),
    caseCount: integer('case_count').notNull(),
    createdAt: createdAt(),
  },
  (t) => [unique('suite_versions_version_uq').on(t.suiteId, t.version)],
);

/** checkpoint x suite version, with aggregates (mean and 95% CI per metric). */
export const evaluations = pgTable(
  'evaluations',
  {
    id: publicId(),
    projectId: projectRef(),
    checkpointId: uuid('checkpoint_id')
      .notNull()
      .references(() => checkpoints.id, { onDelete: 'cascade' }),
    suiteVersionId: bigintRef('suite_version_id')
      .notNull()
      .references(() => suiteVersions.id, { onDelete: 'cascade' }),
    status: evaluationStatus('status').notNull().default('queued'),
    decodingHash: text('decoding_hash').notNull(),
    // Metric implementation versions: results scored by different code are never compared.
    metricVersions: jsonb('metric_versions').notNull(),
    aggregates: jsonb('aggregates'),
    caseCount: integer('case_count'),
    error: text('error'),
    createdAt: createdAt(),
    startedAt: at('started_at'),
    finishedAt: at('finished_at'),
  },
  (t) => [
    index('evaluations_checkpoint_idx').on(t.checkpointId, t.suiteVersionId),
    index('evaluations_suite_version_idx').on(t.suiteVersionId),
  ],
);

export const evaluationCases = pgTable(
  'evaluation_cases',
  {
    evaluationId: uuid('evaluation_id')
      .notNull()
      .references(() => evaluations.id, { onDelete: 'cascade' }),
    caseId: text('case_id').notNull(),
    caseHash: text('case_hash').notNull(),
    output: text('output').notNull(),
    scores: jsonb('scores').notNull(),
    // Per-case pass/fail feeds McNemar and the pass->fail flip lists; null when a suite has none.
    passed: boolean('passed'),
    latencyMs: real('latency_ms'),
  },
  (t) => [primaryKey({ columns: [t.evaluationId, t.caseId] })],
);

/**
 * Generation cache: the same weights, case and decoding always give the same output, so re-scoring
 * with a new metric generates nothing. Keyed by content, not by ids, so it survives re-uploads.
 */
export const modelOutputs = pgTable(
  'model_outputs',
  {
    checkpointSha256: text('checkpoint_sha256').notNull(),
    caseHash: text('case_hash').notNull(),
    decodingHash: text('decoding_hash').notNull(),
    output: text('output').notNull(),
    tokenLogprobs: real('token_logprobs').array(),
    latencyMs: real('latency_ms'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.checkpointSha256, t.caseHash, t.decodingHash] })],
);

/** What a detector reports, with the numbers that justify it. */
export const findings = pgTable(
  'findings',
  {
    id: serialId(),
    projectId: projectRef(),
    runId: uuid('run_id').references(() => runs.id, { onDelete: 'cascade' }),
    checkpointId: uuid('checkpoint_id').references(() => checkpoints.id, { onDelete: 'cascade' }),
    suiteVersionId: bigintRef('suite_version_id').references(() => suiteVersions.id, {
      onDelete: 'cascade',
    }),
    detector: detectorKind('detector').notNull(),
    severity: severity('severity').notNull(),
    summary: text('summary').notNull(),
    evidence: jsonb('evidence').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('findings_run_idx').on(t.runId),
    index('findings_checkpoint_idx').on(t.checkpointId),
  ],
);

/**
 * A person's 1-5 rating of one case's output in an evaluation. One per annotator and case, so a
 * second rating replaces the first; the evaluation's `human_rating` aggregate is made from these.
 */
export const humanRatings = pgTable(
  'human_ratings',
  {
    id: serialId(),
    evaluationId: uuid('evaluation_id')
      .notNull()
      .references(() => evaluations.id, { onDelete: 'cascade' }),
    caseId: text('case_id').notNull(),
    annotator: text('annotator').notNull(),
    rating: smallint('rating').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique('human_ratings_case_annotator_uq').on(t.evaluationId, t.caseId, t.annotator),
    check('human_ratings_rating_range', sql`${t.rating} between 1 and 5`),
  ],
);
