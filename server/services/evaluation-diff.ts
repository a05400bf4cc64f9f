/**
 * Case by case, what changed between two evaluations of one suite version: which cases flipped
 * between pass and fail and how far each score moved. Pairing and ordering happen in Postgres, so
 * the cost is two queries and a page of rows whatever the suite's size.
 */
import { and, asc, count, eq, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '../db/client.ts';
import { evaluationCases } from '../db/schema/index.ts';
import { AppError } from '../http/errors.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { evalRows } from './eval-rows.ts';
import type { EvaluationSubject } from './evaluation-views.ts';

const side = (s: EvaluationSubject) => ({
  id: s.id,
  checkpointId: s.checkpointId,
  runId: s.runId,
  runName: s.runName,
  step: s.step,
});

/**
 * Checks that two evaluations can be compared case by case: one project, one suite version (the
 * same frozen cases, metrics and decoding), both finished.
 */
export function assertComparable(a: EvaluationSubject, b: EvaluationSubject): void {
  if (a.projectId !== b.projectId)
    throw new AppError(
      400,
      'bad_request',
      `b: evaluation ${b.id} is in another project than evaluation ${a.id}`,
    );
  if (a.suiteVersionId !== b.suiteVersionId)
    throw new AppError(
      400,
      'bad_request',
      `b: evaluation ${a.id} is of ${a.suite}@v${a.suiteVersion} and evaluation ${b.id} of ` +
        `${b.suite}@v${b.suiteVersion}; only evaluations of one suite version compare case by case`,
    );
  for (const [field, e] of [
    ['a', a],
    ['b', b],
  ] as const)
    if (e.status !== 'finished')
      throw new AppError(
        409,
        'conflict',
        `${field}: evaluation ${e.id} is ${e.status}, not finished`,
      );
}

/**
 * The per-case diff of `b` against `a` on the suite version's first metric: a summary over every
 * case both scored, and up to `limit` cases, pass->fail flips first, then fail->pass, then by how
 * far the score moved (|scoreB - scoreA|, largest first).
 */
export async function diffEvaluations(
  db: Db,
  store: BlobStore,
  a: EvaluationSubject,
  b: EvaluationSubject,
  limit: number,
) {
  assertComparable(a, b);
  const ca = alias(evaluationCases, 'ca');
  const cb = alias(evaluationCases, 'cb');
  const scoreA = sql<number | null>`(${ca.scores} ->> ${a.metric})::float8`;
  const scoreB = sql<number | null>`(${cb.scores} ->> ${a.metric})::float8`;
  const passToFail = sql`${ca.passed} and not ${cb.passed}`;
  const failToPass = sql`not ${ca.passed} and ${cb.passed}`;
  const [summary] = await db
    .select({
      cases: count(),
      passToFail: sql<number>`count(*) filter (where ${passToFail})::int`,
      failToPass: sql<number>`count(*) filter (where ${failToPass})::int`,
      bothPass: sql<number>`count(*) filter (where ${ca.passed} and ${cb.passed})::int`,
      bothFail: sql<number>`count(*) filter (where not ${ca.passed} and not ${cb.passed})::int`,
      meanDelta: sql<number | null>`avg(${scoreB} - ${scoreA})::float8`,
    })
    .from(ca)
    .innerJoin(cb, and(eq(cb.evaluationId, b.id), eq(cb.caseId, ca.caseId)))
    .where(eq(ca.evaluationId, a.id));
  const rows = await db
    .select({
      caseId: ca.caseId,
      outputA: ca.output,
      outputB: cb.output,
      scoreA,
      scoreB,
      change: sql<
        'pass_to_fail' | 'fail_to_pass' | 'same'
      >`case when ${passToFail} then 'pass_to_fail' when ${failToPass} then 'fail_to_pass' else 'same' end`,
    })
    .from(ca)
    .innerJoin(cb, and(eq(cb.evaluationId, b.id), eq(cb.caseId, ca.caseId)))
    .where(eq(ca.evaluationId, a.id))
    .orderBy(
      sql`case when ${passToFail} then 0 when ${failToPass} then 1 else 2 end`,
      sql`abs(${scoreB} - ${scoreA}) desc nulls last`,
      asc(ca.caseId),
    )
    .limit(limit);
  const dataset = await evalRows(
    store,
    a.storageKey,
    rows.map((r) => r.caseId),
  );
  return {
    a: side(a),
    b: side(b),
    suite: a.suite,
    suiteVersion: a.suiteVersion,
    metric: a.metric,
    summary: summary!,
    cases: rows.map((r) => ({
      caseId: r.caseId,
      input: dataset.get(r.caseId)?.input ?? null,
      expected: dataset.get(r.caseId)?.expected ?? null,
      outputA: r.outputA,
      outputB: r.outputB,
      scoreA: r.scoreA,
      scoreB: r.scoreB,
      delta: r.scoreA === null || r.scoreB === null ? null : r.scoreB - r.scoreA,
      change: r.change,
    })),
  };
}
