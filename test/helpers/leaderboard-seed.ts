import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import {
  checkpoints,
  datasets,
  datasetVersions,
  evaluations,
  models,
  modelVersions,
  runs,
  suites,
  suiteVersions,
} from '../../server/db/schema/index.ts';

/**
 * A leaderboard of `versions` model versions × `suiteCount` suites, inserted in bulk as the
 * evaluation pipeline and registry would leave them (training a thousand models is not what the
 * UI benchmark measures). Scores are deterministic, with ±0.02 intervals.
 */
export async function seedLeaderboard(
  databaseUrl: string,
  projectId: number,
  versions: number,
  suiteCount: number,
) {
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const db = drizzle(sql);
  try {
    const [ds] = await db
      .insert(datasets)
      .values({ projectId, name: 'cases', kind: 'eval' })
      .returning();
    const [dv] = await db
      .insert(datasetVersions)
      .values({
        datasetId: ds!.id,
        version: 1,
        sha256: randomUUID(),
        sizeBytes: 1,
        rowCount: 100,
        storageKey: 'bench',
        cleaningReport: {},
      })
      .returning();
    const suiteVersionIds: number[] = [];
    for (let j = 0; j < suiteCount; j++) {
      const [s] = await db
        .insert(suites)
        .values({
          projectId,
          name: `suite-${String(j).padStart(2, '0')}`,
          purpose: j % 4 === 3 ? 'retention' : 'target',
        })
        .returning();
      const [v] = await db
        .insert(suiteVersions)
        .values({
          suiteId: s!.id,
          version: 1,
          datasetVersionId: dv!.id,
          metrics: ['exact-match'],
          decoding: {},
          decodingHash: 'd',
          caseCount: 100,
        })
        .returning();
      suiteVersionIds.push(v!.id);
    }
    const [run] = await db
      .insert(runs)
      .values({ projectId, name: 'sweep', status: 'finished', plugin: 'lora@0.1.0' })
      .returning();
    const [base] = await db
      .insert(checkpoints)
      .values({
        projectId,
        name: 'tiny-base',
        kind: 'full',
        sha256: randomUUID(),
        sizeBytes: 1,
        storageKey: 'builtin:tiny-base',
        modelConfig: {},
      })
      .returning({ id: checkpoints.id });
    const trained: string[] = [];
    for (let i = 0; i < versions; i += 500) {
      const rows = await db
        .insert(checkpoints)
        .values(
          Array.from({ length: Math.min(500, versions - i) }, (_, k) => ({
            projectId,
            runId: run!.id,
            kind: 'adapter' as const,
            step: i + k + 1,
            baseCheckpointId: base!.id,
            sha256: randomUUID(),
            sizeBytes: 1,
            trainableParams: 24_576,
            totalParams: 883_584,
            storageKey: `checkpoints/${randomUUID()}`,
            modelConfig: {},
          })),
        )
        .returning({ id: checkpoints.id });
      trained.push(...rows.map((r) => r.id));
    }
    const score = (i: number, j: number) => 0.3 + 0.6 * (((i * 7919 + j * 104729) % 1000) / 1000);
    const evaluationRows = [
      ...suiteVersionIds.map((v) => [base!.id, v, 0.5] as const),
      ...trained.flatMap((c, i) => suiteVersionIds.map((v, j) => [c, v, score(i, j)] as const)),
    ];
    for (let i = 0; i < evaluationRows.length; i += 2000)
      await db.insert(evaluations).values(
        evaluationRows.slice(i, i + 2000).map(([checkpointId, suiteVersionId, value]) => ({
          projectId,
          checkpointId,
          suiteVersionId,
          status: 'finished' as const,
          decodingHash: 'd',
          metricVersions: {},
          aggregates: {
            'exact-match': {
              value,
              low: value - 0.02,
              high: value + 0.02,
              n: 100,
              confidence: 0.95,
              metricVersion: 'squad-v1.1/1',
            },
          },
          finishedAt: new Date(),
        })),
      );
    const [m] = await db.insert(models).values({ projectId, name: 'assistant' }).returning();
    for (let i = 0; i < trained.length; i += 1000)
      await db
        .insert(modelVersions)
        .values(
          trained
            .slice(i, i + 1000)
            .map((checkpointId, k) => ({ modelId: m!.id, version: i + k + 1, checkpointId })),
        );
  } finally {
    await sql.end();
  }
}
