import {
  bigint,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { runs } from './runs.ts';

/**
 * One (run, metric key) pair. Points refer to it by a 4-byte id, so the hot table never repeats
 * the key string or the 16-byte run id. It also carries the latest value and running extremes,
 * which run search filters and sorts on without touching the points.
 */
export const metricSeries = pgTable(
  'metric_series',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    lastStep: bigint('last_step', { mode: 'number' }).notNull(),
    lastValue: doublePrecision('last_value').notNull(),
    lastWallTime: bigint('last_wall_time', { mode: 'number' }).notNull(),
    minValue: doublePrecision('min_value').notNull(),
    maxValue: doublePrecision('max_value').notNull(),
  },
  (t) => [
    unique('metric_series_run_key_uq').on(t.runId, t.key),
    index('metric_series_key_last_idx').on(t.key, t.lastValue),
  ],
);

/**
 * The hot table, built for 10^8 rows: narrow, append-only, keyed by (series, step). Re-logging a
 * step overwrites it (last write wins), which makes client retries idempotent. Values are float8
 * so NaN and +-Infinity survive; wall time is epoch milliseconds as MLflow sends it.
 *
 * No foreign key to metric_series: it would add a lookup to every inserted point, and series rows
 * are only created by the same transaction that inserts their first points.
 */
export const metricPoints = pgTable(
  'metric_points',
  {
    seriesId: integer('series_id').notNull(),
    step: bigint('step', { mode: 'number' }).notNull(),
    value: doublePrecision('value').notNull(),
    wallTime: bigint('wall_time', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ name: 'metric_points_pk', columns: [t.seriesId, t.step] })],
);
