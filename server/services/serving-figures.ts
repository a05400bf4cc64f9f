/**
 * Serving figures as the gate and the leaderboard read them: over a version's latest answered
 * requests, so both judge the same population. GET .../versions/{v}/serving (server/serve/stats.ts)
 * windows its latest requests of any outcome and then keeps the answered ones, so over a window
 * with cancelled or refused requests its latency can differ slightly from these.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { ServingFigures } from '../../evaluators/gates/index.ts';
import type { Db } from '../db/client.ts';
import { servingRequests } from '../db/schema/index.ts';

/**
 * A version's latest `last` answered requests (finish reason `stop` or `length`): a backward walk
 * of the (model_version_id, created_at) index that stops after `last` of them. Cancelled, refused
 * and failed requests are left out, since their durations measure the client leaving or the
 * request being turned away, not an answer. `versionId` may be an outer query's column, which
 * makes this the body of a lateral join.
 */
export const answeredWindow = (db: Db, versionId: number | PgColumn, last: number) =>
  db
    .select({
      totalMs: servingRequests.totalMs,
      completionTokens: servingRequests.completionTokens,
    })
    .from(servingRequests)
    .where(
      and(
        eq(servingRequests.modelVersionId, versionId),
        sql`${servingRequests.outcome} in ('stop', 'length')`,
      ),
    )
    .orderBy(desc(servingRequests.createdAt))
    .limit(last)
    .as('w');

/** An exact percentile (null over no rows), rounded to 0.01 ms as the serving statistics are. */
export const percentile = (q: number, column: unknown) =>
  sql<
    number | null
  >`round((percentile_cont(${sql.raw(String(q))}) within group (order by ${column}))::numeric, 2)::float8`;

/**
 * The candidate version's latency for each window a gate's `serving_latency` checks ask for: one
 * query per distinct window (a policy usually has one).
 *
 * @example
 * const serving = await servingFigures(db, version.id, servingWindows(policy));
 */
export async function servingFigures(
  db: Db,
  modelVersionId: number,
  windows: number[],
): Promise<ServingFigures[]> {
  return Promise.all(
    windows.map(async (last) => {
      const w = answeredWindow(db, modelVersionId, last);
      const [r] = await db
        .select({
          requests: sql<number>`count(*)::int`,
          p50: percentile(0.5, w.totalMs),
          p95: percentile(0.95, w.totalMs),
          p99: percentile(0.99, w.totalMs),
        })
        .from(w);
      const { requests, p50, p95, p99 } = r!;
      return {
        last,
        requests,
        latencyMs: p50 === null ? null : { p50, p95: p95!, p99: p99! },
      };
    }),
  );
}
