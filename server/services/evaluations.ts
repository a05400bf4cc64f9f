import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { and, asc, desc, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import {
  detectForgetting,
  memorisationRate,
  runForgetting,
} from '../../evaluators/detectors/index.ts';
import { BUILTIN_MODELS, builtinStorageKey } from '../../plugins/model/base/builtin.ts';
import type { Db } from '../db/client.ts';
import {
  checkpoints,
  datasetVersions,
  evaluationCases,
  evaluations,
  jobs,
  suites,
  suiteVersions,
} from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { EvaluationResults } from '../schemas/suites.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { reapplyHumanRatings } from './human-ratings.ts';
import { assertPostedCases, suiteCaseHashes } from './posted-cases.ts';
import { recordContamination, replaceFindings } from './run-findings.ts';
import type { EvalCase } from '../../evaluators/suite-runner.ts';
import { activeSuiteVersions } from './suites.ts';

type CheckpointRow = typeof checkpoints.$inferSelect;
type SuiteVersionRow = typeof suiteVersions.$inferSelect;

const builtinIdentity = new Map<string, { sha256: string; sizeBytes: number; config: unknown }>();
function builtinFiles(name: string) {
  let found = builtinIdentity.get(name);
  if (!found) {
    const dir = BUILTIN_MODELS[name]!;
    const bytes = readFileSync(path.join(dir, 'model.safetensors'));
    found = {
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sizeBytes: bytes.length,
      config: JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')),
    };
    builtinIdentity.set(name, found);
  }
  return found;
}

/**
 * The project's checkpoint row that stands for a built-in model (the shipped base), made on first
 * use: evaluations and registry versions point at checkpoints, and the base is evaluated like one.
 */
export async function builtinCheckpoint(
  db: Db,
  projectId: number,
  name = 'tiny-base',
): Promise<CheckpointRow> {
  const key = builtinStorageKey(name);
  const where = and(
    eq(checkpoints.projectId, projectId),
    isNull(checkpoints.runId),
    eq(checkpoints.storageKey, key),
  );
  const [existing] = await db.select().from(checkpoints).where(where);
  if (existing) return existing;
  const files = builtinFiles(name);
  return db.transaction(async (tx) => {
    // Serialised per project, so two first evaluations cannot make two rows.
    await tx.execute(sql`select pg_advisory_xact_lock(${projectId}, 42)`);
    const [again] = await tx.select().from(checkpoints).where(where);
    if (again) return again;
    const [row] = await tx
      .insert(checkpoints)
      .values({
        projectId,
        name,
        kind: 'full',
        sha256: files.sha256,
        sizeBytes: files.sizeBytes,
        storageKey: key,
        modelConfig: files.config as Record<string, unknown>,
      })
      .returning();
    return row!;
  });
}

/**
 * The pretrained model at the root of a checkpoint's lineage (what forgetting is measured
 * against): up the chain of base checkpoints to one trained from nothing, or the shipped base.
 */
export async function rootBase(db: Db, c: CheckpointRow): Promise<CheckpointRow> {
  let current = c;
  for (let hops = 0; hops < 100; hops++) {
    if (!current.runId) return current;
    if (!current.baseCheckpointId) return builtinCheckpoint(db, current.projectId);
    const [parent] = await db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.id, current.baseCheckpointId));
    if (!parent) return builtinCheckpoint(db, current.projectId);
    current = parent;
  }
  throw new AppError(409, 'conflict', `checkpoint ${c.id}: its lineage does not end`);
}

/**
 * Queues an evaluation of each checkpoint on each suite version it has not been (or is not being)
 * evaluated on, and sends the jobs after the commit (as runs do: the queue re-hears of any the
 * server restarted before sending).
 */
export async function enqueueEvaluations(
  db: Db,
  queue: JobQueue,
  checkpointRows: CheckpointRow[],
  versions: SuiteVersionRow[],
): Promise<string[]> {
  if (!checkpointRows.length || !versions.length) return [];
  const jobIds = await db.transaction(async (tx) => {
    const existing = await tx
      .select({
        checkpointId: evaluations.checkpointId,
        suiteVersionId: evaluations.suiteVersionId,
      })
      .from(evaluations)
      .where(
        and(
          inArray(
            evaluations.checkpointId,
            checkpointRows.map((c) => c.id),
          ),
          ne(evaluations.status, 'failed'),
        ),
      );
    const have = new Set(existing.map((e) => `${e.checkpointId}:${e.suiteVersionId}`));
    const ids: string[] = [];
    for (const c of checkpointRows) {
      for (const v of versions) {
        if (have.has(`${c.id}:${v.id}`)) continue;
        const [evaluation] = await tx
          .insert(evaluations)
          .values({
            projectId: c.projectId,
            checkpointId: c.id,
            suiteVersionId: v.id,
            decodingHash: v.decodingHash,
            metricVersions: {},
          })
          .returning({ id: evaluations.id });
        const [job] = await tx
          .insert(jobs)
          .values({
            projectId: c.projectId,
            kind: 'evaluate',
            evaluationId: evaluation!.id,
            payload: {},
          })
          .returning({ id: jobs.id });
        await tx.update(jobs).set({ queueJobId: job!.id }).where(eq(jobs.id, job!.id));
        ids.push(job!.id);
      }
    }
    return ids;
  });
  for (const id of jobIds) await queue.enqueue(id);
  return jobIds;
}

/** A new checkpoint is scored on every active suite, and so is the base it was trained from. */
export async function evaluateNewCheckpoint(db: Db, queue: JobQueue, c: CheckpointRow) {
  const versions = await activeSuiteVersions(db, c.projectId);
  if (!versions.length) return [];
  return enqueueEvaluations(db, queue, [c, await rootBase(db, c)], versions);
}

/** The rows an evaluate job works from. */
export async function evaluationContext(db: Db, evaluationId: string) {
  const [row] = await db
    .select({ evaluation: evaluations, version: suiteVersions, suite: suites })
    .from(evaluations)
    .innerJoin(suiteVersions, eq(suiteVersions.id, evaluations.suiteVersionId))
    .innerJoin(suites, eq(suites.id, suiteVersions.suiteId))
    .where(eq(evaluations.id, evaluationId));
  if (!row) throw notFound(`evaluation ${evaluationId}`);
  const [checkpoint] = await db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.id, row.evaluation.checkpointId));
  if (!checkpoint) throw notFound(`checkpoint ${row.evaluation.checkpointId}`);
  return { ...row, checkpoint };
}

/**
 * Stores an evaluation's per-case outputs and scores and its aggregates, then runs the detectors
 * that need it: on a retention suite, forgetting against the base model's evaluation of the same
 * suite version. A case passes when the suite's first metric reaches its pass threshold.
 */
export async function recordEvaluation(
  db: Db,
  store: BlobStore,
  evaluationId: string,
  results: EvaluationResults,
): Promise<void> {
  const { evaluation, version, suite, checkpoint } = await evaluationContext(db, evaluationId);
  const primary = (version.metrics as string[])[0]!;
  const expected = version.caseCount;
  if (results.cases.length !== expected)
    throw new AppError(
      400,
      'bad_request',
      `cases: the suite version has ${expected} cases, ${results.cases.length} were sent`,
    );
  const [file] = await db
    .select({ storageKey: datasetVersions.storageKey })
    .from(datasetVersions)
    .where(eq(datasetVersions.id, version.datasetVersionId));
  if (!file) throw notFound(`dataset version ${version.datasetVersionId}`);
  assertPostedCases(
    await suiteCaseHashes(store, file.storageKey),
    `${suite.name}@v${version.version}`,
    results.cases,
  );
  await db.transaction(async (tx) => {
    await tx.delete(evaluationCases).where(eq(evaluationCases.evaluationId, evaluationId));
    for (let i = 0; i < results.cases.length; i += 1000) {
      await tx.insert(evaluationCases).values(
        results.cases.slice(i, i + 1000).map((c) => ({
          evaluationId,
          caseId: c.caseId,
          caseHash: c.caseHash,
          output: c.output,
          scores: c.scores,
          passed: primary in c.scores ? c.scores[primary]! >= version.passThreshold - 1e-9 : null,
          latencyMs: c.latencyMs,
        })),
      );
    }
    await tx
      .update(evaluations)
      .set({
        status: 'finished',
        aggregates: results.aggregates,
        metricVersions: results.metricVersions,
        caseCount: results.cases.length,
        error: null,
        finishedAt: new Date(),
      })
      .where(eq(evaluations.id, evaluation.id));
    await reapplyHumanRatings(tx, evaluation.id);
  });
  if (checkpoint.runId && results.memorisation) {
    const summary = memorisationRate(results.memorisation);
    if (summary.finding)
      await replaceFindings(
        db,
        { projectId: checkpoint.projectId, runId: checkpoint.runId, checkpointId: checkpoint.id },
        'memorisation',
        [summary.finding],
      );
  }
  if (checkpoint.runId) {
    const text = await new Response(await store.open(file.storageKey)).text();
    const scores = new Map(results.cases.map((c) => [c.caseId, c.scores[primary] ?? 0]));
    const cases = text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as EvalCase)
      .map((c) => ({
        id: c.id,
        text: [c.input, ...(Array.isArray(c.expected) ? c.expected : [c.expected])].join('\n'),
        score: scores.get(c.id) ?? 0,
      }));
    await recordContamination(
      db,
      store,
      {
        projectId: checkpoint.projectId,
        runId: checkpoint.runId,
        checkpointId: checkpoint.id,
        suiteVersionId: version.id,
      },
      cases,
    );
  }
  if (suite.purpose !== 'retention') return;
  // The base's evaluation may land before or after its descendants': whichever is second counts.
  if (checkpoint.runId) {
    await recordForgetting(db, checkpoint, version, suite.name, primary);
    await recordRunForgetting(db, checkpoint.runId, checkpoint.projectId);
  } else await recordForgettingOfDescendants(db, checkpoint, version, suite.name, primary);
}

/**
 * Forgetting across a run's checkpoints on the active retention suites: backward transfer and
 * Chaudhry's forgetting with the base as the stage every skill was learnt in (`runForgetting`),
 * kept as the run's own finding and updated as each evaluation lands.
 */
async function recordRunForgetting(db: Db, runId: string, projectId: number) {
  const stages = await db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, runId))
    .orderBy(asc(checkpoints.step));
  if (!stages.length) return;
  const base = await rootBase(db, stages[0]!);
  const retention = await db
    .select({ v: suiteVersions, name: suites.name })
    .from(suiteVersions)
    .innerJoin(suites, eq(suites.id, suiteVersions.suiteId))
    .where(
      and(
        inArray(
          suiteVersions.id,
          (await activeSuiteVersions(db, projectId)).map((v) => v.id),
        ),
        eq(suites.purpose, 'retention'),
      ),
    );
  const scoreOf = async (c: CheckpointRow, v: SuiteVersionRow) => {
    const e = await finishedEvaluation(db, c.id, v.id);
    const metric = (v.metrics as string[])[0]!;
    return (e?.aggregates as Record<string, { value: number }> | null)?.[metric]?.value ?? NaN;
  };
  const matrix: number[][] = [];
  for (const stage of [base, ...stages]) {
    const row: number[] = [];
    for (const { v } of retention) row.push(await scoreOf(stage, v));
    matrix.push(row);
  }
  const result = runForgetting(matrix);
  if (!result.suites) return;
  const fmt = (x: number) => x.toFixed(3);
  await replaceFindings(db, { projectId, runId }, 'forgetting', [
    {
      detector: 'forgetting',
      // Informational: the gates decide on the per-suite drops with their intervals.
      severity: 'info',
      summary: `Across ${stages.length} checkpoint(s) and ${result.suites} retention suite(s): backward transfer ${fmt(result.backwardTransfer)}, forgetting ${fmt(result.chaudhryForgetting)} (Chaudhry).`,
      evidence: {
        ...result,
        suites: retention.map((r) => r.name),
        stages: [
          { checkpointId: base.id, step: null, base: true },
          ...stages.map((c) => ({ checkpointId: c.id, step: c.step })),
        ],
        scores: matrix.map((row) => row.map((x) => (Number.isFinite(x) ? x : null))),
      },
    },
  ]);
}

/** Per-case (score, passed) of an evaluation's primary metric, for the detectors and gates. */
export async function caseResults(db: Db, evaluationId: string, metric: string) {
  const rows = await db
    .select()
    .from(evaluationCases)
    .where(eq(evaluationCases.evaluationId, evaluationId));
  return rows.map((r) => ({
    id: r.caseId,
    score: (r.scores as Record<string, number>)[metric] ?? Number.NaN,
    passed: r.passed,
  }));
}

async function finishedEvaluation(db: Db, checkpointId: string, suiteVersionId: number) {
  const [row] = await db
    .select()
    .from(evaluations)
    .where(
      and(
        eq(evaluations.checkpointId, checkpointId),
        eq(evaluations.suiteVersionId, suiteVersionId),
        eq(evaluations.status, 'finished'),
      ),
    )
    .orderBy(desc(evaluations.finishedAt))
    .limit(1);
  return row;
}

async function recordForgetting(
  db: Db,
  checkpoint: CheckpointRow,
  version: SuiteVersionRow,
  suiteName: string,
  metric: string,
) {
  const base = await rootBase(db, checkpoint);
  const baseEval = await finishedEvaluation(db, base.id, version.id);
  const mine = await finishedEvaluation(db, checkpoint.id, version.id);
  if (!baseEval || !mine) return;
  const result = detectForgetting({
    suite: suiteName,
    base: await caseResults(db, baseEval.id, metric),
    candidate: await caseResults(db, mine.id, metric),
  });
  await replaceFindings(
    db,
    {
      projectId: checkpoint.projectId,
      runId: checkpoint.runId,
      checkpointId: checkpoint.id,
      suiteVersionId: version.id,
    },
    'forgetting',
    result.findings,
  );
}

async function recordForgettingOfDescendants(
  db: Db,
  base: CheckpointRow,
  version: SuiteVersionRow,
  suiteName: string,
  metric: string,
) {
  const evaluated = await db
    .select({ c: checkpoints })
    .from(evaluations)
    .innerJoin(checkpoints, eq(checkpoints.id, evaluations.checkpointId))
    .where(
      and(
        eq(evaluations.suiteVersionId, version.id),
        eq(evaluations.status, 'finished'),
        eq(checkpoints.projectId, base.projectId),
      ),
    );
  for (const { c } of evaluated) {
    if (c.runId && (await rootBase(db, c)).id === base.id) {
      await recordForgetting(db, c, version, suiteName, metric);
      await recordRunForgetting(db, c.runId, c.projectId);
    }
  }
}

/** Evaluations as the API shows them, with their suite's name, version and purpose. */
export async function presentEvaluations(db: Db, rows: (typeof evaluations.$inferSelect)[]) {
  if (!rows.length) return [];
  const versions = await db
    .select({
      id: suiteVersions.id,
      version: suiteVersions.version,
      name: suites.name,
      purpose: suites.purpose,
      metrics: suiteVersions.metrics,
    })
    .from(suiteVersions)
    .innerJoin(suites, eq(suites.id, suiteVersions.suiteId))
    .where(inArray(suiteVersions.id, [...new Set(rows.map((r) => r.suiteVersionId))]));
  const byId = new Map(versions.map((v) => [v.id, v]));
  return rows.map((r) => {
    const v = byId.get(r.suiteVersionId)!;
    return {
      id: r.id,
      checkpointId: r.checkpointId,
      suite: v.name,
      suiteVersion: v.version,
      purpose: v.purpose,
      metric: (v.metrics as string[])[0]!,
      status: r.status,
      aggregates: r.aggregates as Record<
        string,
        {
          value: number;
          low: number;
          high: number;
          confidence: number;
          n: number;
          metricVersion: string;
        }
      > | null,
      caseCount: r.caseCount,
      error: r.error,
      createdAt: r.createdAt.toISOString(),
      finishedAt: r.finishedAt?.toISOString() ?? null,
    };
  });
}
