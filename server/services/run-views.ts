/**
 * Reads for a run's pages: what the detectors found (about the run and its checkpoints, or across
 * a project) and the job timeline the UI shows as the run's log. Keyset pages, one query each.
 */
import { and, asc, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { checkpoints, evaluations, findings, jobs } from '../db/schema/index.ts';
import { cursorField, decodePageToken, encodePageToken } from './page-token.ts';

type FindingRow = typeof findings.$inferSelect;
type Detector = FindingRow['detector'];
type Severity = FindingRow['severity'];

const presentFinding = (f: FindingRow) => ({
  id: f.id,
  detector: f.detector,
  severity: f.severity,
  summary: f.summary,
  evidence: f.evidence as Record<string, unknown>,
  runId: f.runId,
  checkpointId: f.checkpointId,
  suiteVersionId: f.suiteVersionId,
  createdAt: f.createdAt.toISOString(),
});

/**
 * Findings newest first (ids grow with time), of a run (its own and its checkpoints') or of a
 * whole project, optionally of one detector or severity.
 */
export async function listFindings(
  db: Db,
  scope: { runId: string } | { projectId: number },
  q: { detector?: Detector; severity?: Severity; limit: number; pageToken?: string },
) {
  const view = JSON.stringify(['findings', scope, q.detector, q.severity]);
  const before = q.pageToken
    ? decodePageToken<{ before: number }>(q.pageToken, view, { before: cursorField.int }).before
    : undefined;
  const rows = await db
    .select()
    .from(findings)
    .where(
      and(
        'runId' in scope
          ? or(
              eq(findings.runId, scope.runId),
              inArray(
                findings.checkpointId,
                db
                  .select({ id: checkpoints.id })
                  .from(checkpoints)
                  .where(eq(checkpoints.runId, scope.runId)),
              ),
            )
          : eq(findings.projectId, scope.projectId),
        q.detector ? eq(findings.detector, q.detector) : undefined,
        q.severity ? eq(findings.severity, q.severity) : undefined,
        before === undefined ? undefined : lt(findings.id, before),
      ),
    )
    .orderBy(desc(findings.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return {
    findings: page.map(presentFinding),
    nextPageToken:
      rows.length > q.limit ? encodePageToken(view, { before: page.at(-1)!.id }) : null,
  };
}

/**
 * A run's jobs oldest first: its training job (one per attempt chain) and the evaluations of the
 * checkpoints it wrote, with status, attempts, worker, error and timestamps.
 */
export async function runJobs(db: Db, runId: string, q: { limit: number; pageToken?: string }) {
  const view = `jobs:${runId}`;
  const cursor = q.pageToken
    ? decodePageToken<{ t: string; id: string }>(q.pageToken, view, {
        t: cursorField.timestamp,
        id: cursorField.uuid,
      })
    : undefined;
  const evaluationJobs = inArray(
    jobs.evaluationId,
    db
      .select({ id: evaluations.id })
      .from(evaluations)
      .innerJoin(checkpoints, eq(checkpoints.id, evaluations.checkpointId))
      .where(eq(checkpoints.runId, runId)),
  );
  const rows = await db
    .select({ job: jobs, at: sql<string>`${jobs.createdAt}::text` })
    .from(jobs)
    .where(
      and(
        or(eq(jobs.runId, runId), evaluationJobs),
        // created_at as Postgres prints it keeps its microseconds, which a JS Date would lose.
        cursor
          ? sql`(${jobs.createdAt}, ${jobs.id}) > (${cursor.t}::timestamptz, ${cursor.id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(asc(jobs.createdAt), asc(jobs.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    jobs: page.map(({ job: j }) => ({
      id: j.id,
      kind: j.kind,
      status: j.status,
      attempts: j.attempts,
      workerId: j.workerId,
      error: j.error,
      evaluationId: j.evaluationId,
      createdAt: j.createdAt.toISOString(),
      startedAt: j.startedAt?.toISOString() ?? null,
      heartbeatAt: j.heartbeatAt?.toISOString() ?? null,
      finishedAt: j.finishedAt?.toISOString() ?? null,
    })),
    nextPageToken:
      rows.length > q.limit && last ? encodePageToken(view, { t: last.at, id: last.job.id }) : null,
  };
}
