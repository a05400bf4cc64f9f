import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import { detectContamination, detectOverfitting } from '../../evaluators/detectors/index.ts';
import type { Db } from '../db/client.ts';
import {
  checkpoints,
  datasetVersions,
  findings,
  metricPoints,
  metricSeries,
  runDatasets,
} from '../db/schema/index.ts';
import type { BlobStore } from '../storage/blob-store.ts';

type Finding = {
  detector: string;
  severity: 'info' | 'warn' | 'block';
  summary: string;
  evidence: Record<string, unknown>;
};

/** Replaces a detector's findings about a run (or one checkpoint of it) with `found`. */
export async function replaceFindings(
  db: Db,
  scope: {
    projectId: number;
    runId: string | null;
    checkpointId?: string;
    suiteVersionId?: number;
  },
  detector: 'overfitting' | 'forgetting' | 'memorisation' | 'contamination',
  found: Finding[],
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .delete(findings)
      .where(
        and(
          eq(findings.detector, detector),
          scope.checkpointId
            ? eq(findings.checkpointId, scope.checkpointId)
            : and(eq(findings.runId, scope.runId!), isNull(findings.checkpointId)),
          scope.suiteVersionId ? eq(findings.suiteVersionId, scope.suiteVersionId) : undefined,
        ),
      );
    if (found.length)
      await tx.insert(findings).values(
        found.map((f) => ({
          projectId: scope.projectId,
          runId: scope.runId,
          checkpointId: scope.checkpointId ?? null,
          suiteVersionId: scope.suiteVersionId ?? null,
          detector,
          severity: f.severity,
          summary: f.summary,
          evidence: f.evidence,
        })),
      );
  });
}

async function series(db: Db, runId: string, key: string) {
  return db
    .select({ step: metricPoints.step, value: metricPoints.value })
    .from(metricPoints)
    .innerJoin(metricSeries, eq(metricSeries.id, metricPoints.seriesId))
    .where(and(eq(metricSeries.runId, runId), eq(metricSeries.key, key)))
    .orderBy(asc(metricPoints.step))
    .limit(1_000_000);
}

/**
 * When a training ends: validation loss that stopped improving for `patience` evaluations while
 * the training loss kept falling is overfitting. The finding is the run's (it applies to its later
 * checkpoints) and names the checkpoint nearest the best validation step.
 */
export async function recordOverfitting(db: Db, run: { id: string; projectId: number }) {
  const result = detectOverfitting({
    train: await series(db, run.id, 'train/loss'),
    validation: await series(db, run.id, 'validation/loss'),
  });
  if (!result.finding)
    return replaceFindings(db, { projectId: run.projectId, runId: run.id }, 'overfitting', []);
  const saved = await db
    .select({ id: checkpoints.id, step: checkpoints.step })
    .from(checkpoints)
    .where(eq(checkpoints.runId, run.id));
  const best = saved
    .filter((c) => c.step !== null)
    .sort(
      (a, b) =>
        Math.abs(a.step! - (result.bestStep ?? 0)) - Math.abs(b.step! - (result.bestStep ?? 0)),
    )[0];
  const finding = {
    ...result.finding,
    evidence: {
      ...result.finding.evidence,
      bestCheckpointId: best?.id ?? null,
      bestCheckpointStep: best?.step ?? null,
    },
  };
  await replaceFindings(db, { projectId: run.projectId, runId: run.id }, 'overfitting', [finding]);
}

/** The text of a training row that could leak into an eval case, whatever the dataset's kind. */
const rowText = (row: Record<string, unknown>) =>
  ['text', 'prompt', 'response', 'chosen', 'rejected', 'input', 'expected']
    .flatMap((k) =>
      typeof row[k] === 'string'
        ? [row[k] as string]
        : Array.isArray(row[k])
          ? (row[k] as unknown[]).map(String)
          : [],
    )
    .join('\n');

/**
 * Train/eval contamination: 13-gram overlap between the run's training dataset versions and a
 * suite version's cases, with the suite's score on all cases, on the clean ones and on the
 * contaminated ones.
 */
export async function recordContamination(
  db: Db,
  store: BlobStore,
  scope: { projectId: number; runId: string; checkpointId: string; suiteVersionId: number },
  cases: { id: string; text: string; score: number }[],
) {
  const versions = await db
    .select({ storageKey: datasetVersions.storageKey })
    .from(runDatasets)
    .innerJoin(datasetVersions, eq(datasetVersions.id, runDatasets.datasetVersionId))
    .where(and(eq(runDatasets.runId, scope.runId), inArray(runDatasets.role, ['train'])));
  const training: string[] = [];
  for (const v of versions) {
    const text = await new Response(await store.open(v.storageKey)).text();
    for (const line of text.split('\n'))
      if (line.trim()) training.push(rowText(JSON.parse(line) as Record<string, unknown>));
  }
  const result = detectContamination({
    training,
    cases: cases.map((c) => ({ id: c.id, text: c.text })),
    caseScores: Object.fromEntries(cases.map((c) => [c.id, c.score])),
  });
  await replaceFindings(db, scope, 'contamination', result.finding ? [result.finding] : []);
}
