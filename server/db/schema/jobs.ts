import { index, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { at, createdAt, publicId } from './columns.ts';
import { evaluations } from './evaluations.ts';
import { jobKind, jobStatus } from './enums.ts';
import { projectRef } from './projects.ts';
import { runs } from './runs.ts';

/**
 * Our view of a unit of work (a training run or an evaluation). Claiming, leases, retries and
 * dead-lettering belong to the Postgres job queue; `queue_job_id` links to its row there.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: publicId(),
    projectId: projectRef(),
    kind: jobKind('kind').notNull(),
    runId: uuid('run_id').references(() => runs.id, { onDelete: 'cascade' }),
    evaluationId: uuid('evaluation_id').references(() => evaluations.id, { onDelete: 'cascade' }),
    queueJobId: text('queue_job_id'),
    status: jobStatus('status').notNull().default('queued'),
    payload: jsonb('payload').notNull(),
    workerId: text('worker_id'),
    attempts: integer('attempts').notNull().default(0),
    error: text('error'),
    createdAt: createdAt(),
    startedAt: at('started_at'),
    heartbeatAt: at('heartbeat_at'),
    finishedAt: at('finished_at'),
  },
  (t) => [index('jobs_status_idx').on(t.status, t.createdAt), index('jobs_run_idx').on(t.runId)],
);
