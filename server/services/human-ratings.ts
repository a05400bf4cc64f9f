/**
 * Human evaluation: people rate an evaluation's outputs 1-5, case by case. Each change recomputes
 * the evaluation's `human_rating` aggregate (mean over cases of the mean over annotators, with a
 * 95% bootstrap interval) in `evaluations.aggregates`, where leaderboards read metrics, and the
 * case's `human_rating` score in `evaluation_cases.scores`, where gate checks read them.
 */
import { and, avg, eq, sql } from 'drizzle-orm';
import { bootstrapCi } from '../../evaluators/stats/bootstrap.ts';
import type { Db } from '../db/client.ts';
import { evaluationCases, evaluations, humanRatings } from '../db/schema/index.ts';
import { notFound } from '../http/errors.ts';

/** The key the aggregate and per-case scores are stored under. */
export const HUMAN_RATING = 'human_rating';
// Bumped if the way ratings are combined ever changes, as metric versions are.
const HUMAN_RATING_VERSION = 'human-1';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Recomputes the evaluation's aggregate and the case's score from the ratings now stored. */
async function recompute(tx: Tx, evaluationId: string, caseId: string) {
  const { aggregate, perCase } = await recomputeAggregate(tx, evaluationId);
  const mine = perCase.find((r) => r.caseId === caseId);
  await tx
    .update(evaluationCases)
    .set({
      scores: mine
        ? sql`${evaluationCases.scores} || jsonb_build_object(${HUMAN_RATING}::text, ${mine.mean}::float8)`
        : sql`${evaluationCases.scores} - ${HUMAN_RATING}::text`,
    })
    .where(and(eq(evaluationCases.evaluationId, evaluationId), eq(evaluationCases.caseId, caseId)));
  return aggregate;
}

/** The `human_rating` aggregate from the ratings stored now, merged into the evaluation's. */
async function recomputeAggregate(tx: Tx, evaluationId: string) {
  // One recompute at a time per evaluation, so the last write wins with every rating counted.
  await tx.execute(
    sql`select 1 from ${evaluations} where ${evaluations.id} = ${evaluationId} for update`,
  );
  const perCase = await tx
    .select({ caseId: humanRatings.caseId, mean: sql<number>`${avg(humanRatings.rating)}::float8` })
    .from(humanRatings)
    .where(eq(humanRatings.evaluationId, evaluationId))
    .groupBy(humanRatings.caseId)
    .orderBy(humanRatings.caseId);
  const means = perCase.map((r) => r.mean);
  const ci = bootstrapCi(means);
  const aggregate = means.length
    ? {
        value: ci.estimate,
        low: ci.low,
        high: ci.high,
        confidence: ci.confidence,
        n: means.length,
        metricVersion: HUMAN_RATING_VERSION,
      }
    : null;
  await tx
    .update(evaluations)
    .set({
      aggregates: aggregate
        ? sql`coalesce(${evaluations.aggregates}, '{}'::jsonb) || jsonb_build_object(${HUMAN_RATING}::text, ${JSON.stringify(aggregate)}::jsonb)`
        : sql`${evaluations.aggregates} - ${HUMAN_RATING}::text`,
    })
    .where(eq(evaluations.id, evaluationId));
  return { aggregate, perCase };
}

/**
 * Puts stored ratings back after a worker (re)wrote an evaluation's results, which replaces its
 * aggregates and case scores: the ratings outlive any number of re-runs.
 */
export async function reapplyHumanRatings(tx: Tx, evaluationId: string) {
  const { perCase } = await recomputeAggregate(tx, evaluationId);
  if (!perCase.length) return;
  await tx.execute(sql`
    update ${evaluationCases} c
    set scores = c.scores || jsonb_build_object(${HUMAN_RATING}::text, r.mean)
    from (select case_id, avg(rating)::float8 as mean from ${humanRatings}
          where evaluation_id = ${evaluationId} group by case_id) r
    where c.evaluation_id = ${evaluationId} and c.case_id = r.case_id`);
}

/** The mean and number of annotators of one case, after a change. */
async function caseSummary(tx: Tx, evaluationId: string, caseId: string) {
  const [row] = await tx
    .select({
      mean: sql<number | null>`${avg(humanRatings.rating)}::float8`,
      n: sql<number>`count(*)::int`,
    })
    .from(humanRatings)
    .where(and(eq(humanRatings.evaluationId, evaluationId), eq(humanRatings.caseId, caseId)));
  return row && row.n > 0 ? { mean: row.mean!, n: row.n } : null;
}

async function assertCase(db: Db, evaluationId: string, caseId: string) {
  const [found] = await db
    .select({ caseId: evaluationCases.caseId })
    .from(evaluationCases)
    .where(and(eq(evaluationCases.evaluationId, evaluationId), eq(evaluationCases.caseId, caseId)));
  if (!found) throw notFound(`case "${caseId}" of evaluation ${evaluationId}`);
}

/**
 * Records (or replaces) an annotator's rating of a case and recomputes the evaluation's
 * `human_rating`. 404 when the evaluation has no such case.
 *
 * @example
 * await rateCase(db, { evaluationId, caseId: 'q1', annotator: 'ana', rating: 4 });
 */
export async function rateCase(
  db: Db,
  input: { evaluationId: string; caseId: string; annotator: string; rating: number },
) {
  await assertCase(db, input.evaluationId, input.caseId);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(humanRatings)
      .values(input)
      .onConflictDoUpdate({
        target: [humanRatings.evaluationId, humanRatings.caseId, humanRatings.annotator],
        set: { rating: input.rating, createdAt: sql`now()` },
      })
      .returning();
    const aggregate = await recompute(tx, input.evaluationId, input.caseId);
    return {
      evaluationId: row!.evaluationId,
      caseId: row!.caseId,
      annotator: row!.annotator,
      rating: row!.rating,
      createdAt: row!.createdAt.toISOString(),
      case: await caseSummary(tx, input.evaluationId, input.caseId),
      humanRating: aggregate,
    };
  });
}

/** Removes an annotator's rating of a case and recomputes; 404 when there is none. */
export async function deleteRating(
  db: Db,
  input: { evaluationId: string; caseId: string; annotator: string },
) {
  return db.transaction(async (tx) => {
    const deleted = await tx
      .delete(humanRatings)
      .where(
        and(
          eq(humanRatings.evaluationId, input.evaluationId),
          eq(humanRatings.caseId, input.caseId),
          eq(humanRatings.annotator, input.annotator),
        ),
      )
      .returning({ id: humanRatings.id });
    if (!deleted.length)
      throw notFound(
        `annotator: a rating of case "${input.caseId}" by "${input.annotator}" in evaluation ${input.evaluationId}`,
      );
    const aggregate = await recompute(tx, input.evaluationId, input.caseId);
    return {
      evaluationId: input.evaluationId,
      caseId: input.caseId,
      annotator: input.annotator,
      case: await caseSummary(tx, input.evaluationId, input.caseId),
      humanRating: aggregate,
    };
  });
}
