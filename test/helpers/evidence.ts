import { randomUUID } from 'node:crypto';
import {
  checkpoints,
  datasetVersions,
  datasets,
  evaluationCases,
  evaluations,
  findings,
  runs,
  suiteVersions,
  suites,
} from '../../server/db/schema/index.ts';
import type { TestDatabase } from './database.ts';

/**
 * Rows the evaluation pipeline would write, inserted directly: runs, checkpoints, suites and
 * their versions, finished evaluations with per-case scores, and findings. Each helper returns
 * the id the next one needs.
 */
export function evidenceRows(database: TestDatabase, projectId: number) {
  const { db } = database;
  let datasetVersionId: number | undefined;

  async function evalDatasetVersion(): Promise<number> {
    if (datasetVersionId !== undefined) return datasetVersionId;
    const [ds] = await db
      .insert(datasets)
      .values({ projectId, name: `cases-${randomUUID().slice(0, 8)}`, kind: 'eval' })
      .returning();
    const [v] = await db
      .insert(datasetVersions)
      .values({
        datasetId: ds!.id,
        version: 1,
        sha256: randomUUID(),
        sizeBytes: 1,
        rowCount: 1,
        storageKey: 'test',
        cleaningReport: {},
      })
      .returning();
    return (datasetVersionId = v!.id);
  }

  return {
    async run(baseCheckpointId: string | null = null): Promise<string> {
      const [row] = await db
        .insert(runs)
        .values({ projectId, name: 'run', status: 'finished', baseCheckpointId })
        .returning();
      return row!.id;
    },

    async checkpoint(
      opts: { runId?: string | null; step?: number; storageKey?: string; base?: string } = {},
    ): Promise<string> {
      const [row] = await db
        .insert(checkpoints)
        .values({
          projectId,
          runId: opts.runId ?? null,
          kind: 'full',
          step: opts.step ?? null,
          baseCheckpointId: opts.base ?? null,
          sha256: randomUUID(),
          sizeBytes: 1,
          storageKey: opts.storageKey ?? `checkpoints/${randomUUID()}`,
          modelConfig: {},
        })
        .returning();
      return row!.id;
    },

    async suite(
      name: string,
      purpose: 'target' | 'retention' | 'safety',
      opts: { active?: boolean; versions?: number } = {},
    ): Promise<number[]> {
      const [suite] = await db
        .insert(suites)
        .values({ projectId, name, purpose, active: opts.active ?? true })
        .returning();
      const ids: number[] = [];
      for (let version = 1; version <= (opts.versions ?? 1); version++) {
        const [v] = await db
          .insert(suiteVersions)
          .values({
            suiteId: suite!.id,
            version,
            datasetVersionId: await evalDatasetVersion(),
            metrics: ['exact_match'],
            decoding: { maxTokens: 8 },
            decodingHash: 'd',
            caseCount: 4,
          })
          .returning();
        ids.push(v!.id);
      }
      return ids;
    },

    /** An evaluation whose i-th case (`c0`, `c1`, ...) scores `scores[i]` and passes at 1. */
    async evaluation(
      checkpointId: string,
      suiteVersionId: number,
      scores: number[],
      status: 'finished' | 'failed' | 'running' | 'queued' = 'finished',
    ): Promise<string> {
      const [row] = await db
        .insert(evaluations)
        .values({
          projectId,
          checkpointId,
          suiteVersionId,
          status,
          decodingHash: 'd',
          metricVersions: { exact_match: '1' },
          finishedAt: status === 'finished' ? new Date() : null,
          caseCount: status === 'finished' ? scores.length : null,
        })
        .returning();
      if (scores.length === 0) return row!.id;
      await db.insert(evaluationCases).values(
        scores.map((s, i) => ({
          evaluationId: row!.id,
          caseId: `c${i}`,
          caseHash: `h${i}`,
          output: '',
          scores: { exact_match: s },
          passed: s >= 1,
        })),
      );
      return row!.id;
    },

    async finding(opts: {
      runId?: string;
      checkpointId?: string;
      severity: 'info' | 'warn' | 'block';
      summary: string;
    }) {
      await db.insert(findings).values({
        projectId,
        runId: opts.runId ?? null,
        checkpointId: opts.checkpointId ?? null,
        detector: 'overfitting',
        severity: opts.severity,
        summary: opts.summary,
        evidence: {},
      });
    },
  };
}

/** The gate most tests use: qa must be good enough, retention must not drop vs the base. */
export const releasePolicy = {
  kind: 'all',
  checks: [
    { kind: 'threshold', suite: 'qa', metric: 'exact_match', min: 0.5 },
    {
      kind: 'change',
      baseline: 'base',
      suite: { purpose: 'retention' },
      metric: 'exact_match',
      direction: 'higher_is_better',
      minAbsoluteChange: -0.05,
    },
    { kind: 'max_regressions', baseline: 'base', suite: { purpose: 'retention' }, max: 1 },
    { kind: 'no_blocking_findings' },
  ],
};

/**
 * The built-in base model, a run trained from it (no base of its own) whose checkpoint `good`
 * learned qa and kept general skills, and a second run continuing from `good` whose checkpoint
 * `forgot` learned qa better but forgot three general cases and has a blocking run-level finding.
 * Distractors the evidence must ignore: an inactive suite, a failed evaluation on a newer suite
 * version, and a blocking finding on another checkpoint of `good`'s run.
 */
export async function forgettingScenario(database: TestDatabase, projectId: number) {
  const rows = evidenceRows(database, projectId);
  const builtin = await rows.checkpoint({ storageKey: 'builtin:tiny-base' });
  const run1 = await rows.run();
  const early = await rows.checkpoint({ runId: run1, step: 50 });
  const good = await rows.checkpoint({ runId: run1, step: 100 });
  const run2 = await rows.run(good);
  const forgot = await rows.checkpoint({ runId: run2, step: 100 });

  const [qa] = await rows.suite('qa', 'target');
  const [general1, general2] = await rows.suite('general', 'retention', { versions: 2 });
  const [legacy] = await rows.suite('legacy', 'retention', { active: false });
  const generalBase = [1, 1, 1, 1, 1, 1, 1, 0];
  await rows.evaluation(builtin, qa!, [0, 0, 0, 1]);
  await rows.evaluation(builtin, general1!, generalBase);
  await rows.evaluation(builtin, legacy!, [1, 1, 1, 1]);
  await rows.evaluation(good, qa!, [1, 1, 0, 1]);
  await rows.evaluation(good, general1!, generalBase);
  await rows.evaluation(good, general2!, [0, 0, 0, 0], 'failed');
  await rows.evaluation(good, legacy!, [0, 0, 0, 0]);
  await rows.evaluation(forgot, qa!, [1, 1, 1, 1]);
  await rows.evaluation(forgot, general1!, [1, 1, 0, 0, 0, 1, 1, 0]);
  await rows.finding({ checkpointId: early, severity: 'block', summary: 'memorised at step 50' });
  await rows.finding({ checkpointId: good, severity: 'info', summary: 'all fine' });
  await rows.finding({ runId: run2, severity: 'block', summary: 'validation loss rising' });
  return { rows, builtin, good, forgot, run1, run2 };
}
