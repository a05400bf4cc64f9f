/**
 * Reads of evaluations for the UI: one evaluation's cases (with the frozen rows they came from and
 * their human ratings) and a project's evaluations with their checkpoints. A fixed number of
 * queries per page, whatever its size.
 */
import { and, asc, avg, count, desc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import {
  checkpoints,
  datasetVersions,
  evaluationCases,
  evaluations,
  humanRatings,
  runs,
  suites,
  suiteVersions,
} from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { evalRows } from './eval-rows.ts';
import { presentEvaluations } from './evaluations.ts';
import { cursorField, decodePageToken, encodePageToken } from './page-token.ts';
import { findSuite } from './suites.ts';

/**
 * Evaluations with what their views need: suite and version, the first metric, the eval file, and
 * the checkpoint and run they score. In the order of `ids`; a missing one is a 404.
 */
export async function evaluationSubjects(db: Db, ids: string[]) {
  const rows = await db
    .select({
      id: evaluations.id,
      projectId: evaluations.projectId,
      status: evaluations.status,
      suiteVersionId: evaluations.suiteVersionId,
      suite: suites.name,
      suiteVersion: suiteVersions.version,
      metrics: suiteVersions.metrics,
      storageKey: datasetVersions.storageKey,
      checkpointId: evaluations.checkpointId,
      step: checkpoints.step,
      runId: checkpoints.runId,
      runName: runs.name,
    })
    .from(evaluations)
    .innerJoin(suiteVersions, eq(suiteVersions.id, evaluations.suiteVersionId))
    .innerJoin(suites, eq(suites.id, suiteVersions.suiteId))
    .innerJoin(datasetVersions, eq(datasetVersions.id, suiteVersions.datasetVersionId))
    .innerJoin(checkpoints, eq(checkpoints.id, evaluations.checkpointId))
    .leftJoin(runs, eq(runs.id, checkpoints.runId))
    .where(inArray(evaluations.id, ids));
  return ids.map((id) => {
    const row = rows.find((r) => r.id === id);
    if (!row) throw notFound(`evaluation ${id}`);
    return { ...row, metric: (row.metrics as string[])[0]! };
  });
}
export type EvaluationSubject = Awaited<ReturnType<typeof evaluationSubjects>>[number];

/** Mean human rating and number of annotators of each given case of an evaluation. */
export async function caseRatings(db: Db, evaluationId: string, caseIds: string[]) {
  if (!caseIds.length) return new Map<string, { mean: number; n: number }>();
  const rows = await db
    .select({
      caseId: humanRatings.caseId,
      mean: sql<number>`${avg(humanRatings.rating)}::float8`,
      n: count(),
    })
    .from(humanRatings)
    .where(and(eq(humanRatings.evaluationId, evaluationId), inArray(humanRatings.caseId, caseIds)))
    .groupBy(humanRatings.caseId);
  return new Map(rows.map((r) => [r.caseId, { mean: r.mean, n: r.n }]));
}

/**
 * A page of an evaluation's cases in case id order, optionally only those that passed or
 * failed, with each case's input and expected answer from the suite version's eval file.
 */
export async function evaluationCasesPage(
  db: Db,
  store: BlobStore,
  subject: EvaluationSubject,
  q: { limit: number; pageToken?: string; outcome: 'all' | 'passed' | 'failed' },
) {
  const view = `cases:${subject.id}:${q.outcome}`;
  const after = q.pageToken
    ? decodePageToken<{ after: string }>(q.pageToken, view, { after: cursorField.text }).after
    : undefined;
  const rows = await db
    .select()
    .from(evaluationCases)
    .where(
      and(
        eq(evaluationCases.evaluationId, subject.id),
        q.outcome === 'all' ? undefined : eq(evaluationCases.passed, q.outcome === 'passed'),
        after === undefined ? undefined : gt(evaluationCases.caseId, after),
      ),
    )
    .orderBy(asc(evaluationCases.caseId))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const ids = page.map((r) => r.caseId);
  const [ratings, dataset] = await Promise.all([
    caseRatings(db, subject.id, ids),
    evalRows(store, subject.storageKey, ids),
  ]);
  return {
    cases: page.map((r) => ({
      caseId: r.caseId,
      input: dataset.get(r.caseId)?.input ?? null,
      expected: dataset.get(r.caseId)?.expected ?? null,
      output: r.output,
      scores: r.scores as Record<string, number>,
      passed: r.passed,
      latencyMs: r.latencyMs,
      humanRating: ratings.get(r.caseId) ?? null,
    })),
    nextPageToken:
      rows.length > q.limit ? encodePageToken(view, { after: page.at(-1)!.caseId }) : null,
  };
}

interface ProjectEvaluationsQuery {
  suite?: string;
  suiteVersion?: number;
  status?: 'queued' | 'running' | 'finished' | 'failed';
  checkpointId?: string;
  limit: number;
  pageToken?: string;
}

/**
 * A project's evaluations, newest first, each with its checkpoint (step, run id and name), so a UI
 * can pick two of one suite version to compare or one whose outputs to rate.
 */
export async function projectEvaluations(db: Db, projectId: number, q: ProjectEvaluationsQuery) {
  if (q.suiteVersion !== undefined && q.suite === undefined)
    throw new AppError(400, 'bad_request', 'suiteVersion: needs suite');
  const suite = q.suite === undefined ? undefined : await findSuite(db, projectId, q.suite);
  const view = JSON.stringify([
    'evaluations',
    projectId,
    q.suite,
    q.suiteVersion,
    q.status,
    q.checkpointId,
  ]);
  const cursor = q.pageToken
    ? decodePageToken<{ t: string; id: string }>(q.pageToken, view, {
        t: cursorField.timestamp,
        id: cursorField.uuid,
      })
    : undefined;
  const filters: (SQL | undefined)[] = [
    eq(evaluations.projectId, projectId),
    suite ? eq(suiteVersions.suiteId, suite.id) : undefined,
    q.suiteVersion === undefined ? undefined : eq(suiteVersions.version, q.suiteVersion),
    q.status ? eq(evaluations.status, q.status) : undefined,
    q.checkpointId ? eq(evaluations.checkpointId, q.checkpointId) : undefined,
    // created_at as Postgres prints it keeps its microseconds, which a JS Date would lose.
    cursor
      ? sql`(${evaluations.createdAt}, ${evaluations.id}) < (${cursor.t}::timestamptz, ${cursor.id}::uuid)`
      : undefined,
  ];
  const rows = await db
    .select({
      evaluation: evaluations,
      at: sql<string>`${evaluations.createdAt}::text`,
      checkpoint: {
        id: checkpoints.id,
        name: checkpoints.name,
        step: checkpoints.step,
        runId: checkpoints.runId,
        runName: runs.name,
      },
    })
    .from(evaluations)
    .innerJoin(suiteVersions, eq(suiteVersions.id, evaluations.suiteVersionId))
    .innerJoin(checkpoints, eq(checkpoints.id, evaluations.checkpointId))
    .leftJoin(runs, eq(runs.id, checkpoints.runId))
    .where(and(...filters))
    .orderBy(desc(evaluations.createdAt), desc(evaluations.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const presented = await presentEvaluations(
    db,
    page.map((r) => r.evaluation),
  );
  const last = page.at(-1);
  return {
    evaluations: presented.map((e, i) => ({ ...e, checkpoint: page[i]!.checkpoint })),
    nextPageToken:
      rows.length > q.limit && last
        ? encodePageToken(view, { t: last.at, id: last.evaluation.id })
        : null,
  };
}
