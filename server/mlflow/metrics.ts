import { Hono } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { AppError } from '../http/errors.ts';
import { MAX_HISTORY_PAGE, type MetricHistory } from '../schemas/metrics.ts';
import { metricBuckets, metricHistoryJson } from '../services/metrics.ts';
import { MlflowError } from './errors.ts';
import { idString, int64, key, runFor, runIdFields, runIdOf } from './tracking.ts';
import { ok, params } from './wire.ts';

/** A metric the run never logged has an empty history, as in MLflow; not an error. */
const orEmpty = async <T>(read: Promise<T>, empty: T): Promise<T> => {
  try {
    return await read;
  } catch (err) {
    if (err instanceof AppError && err.status === 404) return empty;
    throw err;
  }
};

const afterStepOf = (token: string | undefined) => {
  if (!token) return undefined;
  const m = /^after:(-?\d{1,19})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!m)
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      'Invalid page_token: not one this server issued',
    );
  return Number(m[1]);
};

/** Metric histories, read from heldout's points (paged) and step buckets (sampled). */
export function mlflowMetricRoutes(deps: AppDeps) {
  const { sql } = deps.database;
  return new Hono<AppEnv>()
    .get('/metrics/get-history', async (c) => {
      const q = await params(
        c,
        z.object({
          ...runIdFields,
          metric_key: key,
          max_results: int64.pipe(z.number().min(1).max(MAX_HISTORY_PAGE)).default(25_000),
          page_token: z.string().max(200).optional(),
        }),
      );
      const run = await runFor(deps, c, runIdOf(q), 'read');
      const afterStep = afterStepOf(q.page_token);
      const text = await orEmpty(
        metricHistoryJson(sql, run.id, { key: q.metric_key, afterStep, limit: q.max_results }),
        null,
      );
      if (!text) return ok(c, { metrics: [] });
      const h = JSON.parse(text) as MetricHistory;
      return ok(c, {
        metrics: h.steps.map((step, i) => ({
          key: q.metric_key,
          value: h.values[i],
          timestamp: h.wallTimes[i],
          step,
        })),
        ...(h.nextAfterStep !== null && {
          next_page_token: Buffer.from(`after:${h.nextAfterStep}`).toString('base64url'),
        }),
      });
    })
    .get('/metrics/get-history-bulk-interval', async (c) => {
      const q = await params(
        c,
        z.object({
          run_ids: z
            .union([idString, z.array(idString)])
            .transform((v) => (Array.isArray(v) ? v : [v]))
            .pipe(z.array(z.string()).min(1).max(100, 'at most 100 runs')),
          metric_key: key,
          start_step: int64.optional(),
          end_step: int64.optional(),
          max_results: int64.pipe(z.number().min(1).max(10_000)).default(2500),
        }),
      );
      if (q.start_step !== undefined && q.end_step !== undefined && q.start_step > q.end_step)
        throw new MlflowError(
          'INVALID_PARAMETER_VALUE',
          "Invalid value for parameter 'end_step': it is before start_step",
        );
      const runs = [];
      for (const id of [...new Set(q.run_ids)]) runs.push(await runFor(deps, c, id, 'read'));
      const metrics = [];
      // Evenly sampled: the steps in the window are cut into max_results equal buckets and each
      // bucket's last point is returned (heldout's chart downsampling), per run, in step order.
      for (const run of runs) {
        const { buckets } = await orEmpty(
          metricBuckets(sql, run.id, {
            key: q.metric_key,
            minStep: q.start_step,
            maxStep: q.end_step,
            buckets: q.max_results,
          }),
          { key: q.metric_key, buckets: [] },
        );
        for (const b of buckets)
          metrics.push({
            key: q.metric_key,
            value: b.last,
            timestamp: b.wallTime,
            step: b.stepMax,
            run_id: run.id,
          });
      }
      return ok(c, { metrics });
    });
}
