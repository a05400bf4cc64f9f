import {
  checkpoints,
  evaluationCases,
  evaluations,
  runs,
  suites,
  suiteVersions,
} from '../../server/db/schema/index.ts';
import type { testApp } from './app.ts';
import type { TestDatabase } from './database.ts';

type TestApp = Awaited<ReturnType<typeof testApp>>;

/**
 * A project with an uploaded eval file (its rows are what cases' input and expected come from),
 * suites on it, and evaluations with per-case outputs and scores inserted as the worker's report
 * would leave them. Each helper returns the id the next one needs.
 */
export async function evalCaseRows(
  t: TestApp,
  database: TestDatabase,
  project: string,
  rows: { id: string; input: string; expected: string | string[] }[],
) {
  const { db } = database;
  const created = await t.call('POST', '/api/v1/projects', { name: project });
  if (created.status !== 201) throw new Error(`project: ${created.text}`);
  const projectId: number = created.json.id;
  const upload = await t.app.request(
    `/api/v1/projects/${project}/datasets/cases/versions?kind=eval`,
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${t.adminToken}`,
        'content-type': 'application/x-ndjson',
      },
      body: rows.map((r) => JSON.stringify(r)).join('\n') + '\n',
    },
  );
  if (upload.status !== 201) throw new Error(`upload: ${await upload.text()}`);
  const datasetVersionId = ((await upload.json()) as { id: number }).id;

  return {
    projectId,
    async suite(name: string, versions = 1): Promise<number[]> {
      const [s] = await db
        .insert(suites)
        .values({ projectId, name, purpose: 'target' })
        .returning();
      const inserted = await db
        .insert(suiteVersions)
        .values(
          Array.from({ length: versions }, (_, i) => ({
            suiteId: s!.id,
            version: i + 1,
            datasetVersionId,
            metrics: ['exact_match'],
            decoding: {},
            decodingHash: 'd',
            caseCount: rows.length,
          })),
        )
        .returning();
      return inserted.map((v) => v.id);
    },
    async run(name: string): Promise<string> {
      const [r] = await db.insert(runs).values({ projectId, name, status: 'finished' }).returning();
      return r!.id;
    },
    async checkpoint(runId: string | null, step: number | null): Promise<string> {
      const [c] = await db
        .insert(checkpoints)
        .values({
          projectId,
          runId,
          kind: 'full',
          step,
          sha256: `sha-${Math.random()}`,
          sizeBytes: 1,
          storageKey: `checkpoints/${Math.random()}`,
          modelConfig: {},
        })
        .returning();
      return c!.id;
    },
    /** A finished evaluation: `cases` maps case id to [output, exact_match]; passes at 1. */
    async evaluation(
      checkpointId: string,
      suiteVersionId: number,
      cases: Record<string, [string, number]>,
      opts: { status?: 'finished' | 'queued'; createdAt?: Date } = {},
    ): Promise<string> {
      const status = opts.status ?? 'finished';
      const [e] = await db
        .insert(evaluations)
        .values({
          projectId,
          checkpointId,
          suiteVersionId,
          status,
          decodingHash: 'd',
          metricVersions: { exact_match: '1' },
          aggregates:
            status === 'finished'
              ? {
                  exact_match: {
                    value: 0.5,
                    low: 0,
                    high: 1,
                    confidence: 0.95,
                    n: 1,
                    metricVersion: '1',
                  },
                }
              : null,
          caseCount: status === 'finished' ? Object.keys(cases).length : null,
          finishedAt: status === 'finished' ? new Date() : null,
          createdAt: opts.createdAt,
        })
        .returning();
      const entries = Object.entries(cases);
      if (entries.length)
        await db.insert(evaluationCases).values(
          entries.map(([caseId, [output, score]]) => ({
            evaluationId: e!.id,
            caseId,
            caseHash: `h-${caseId}`,
            output,
            scores: { exact_match: score },
            passed: score >= 1,
            latencyMs: 3,
          })),
        );
      return e!.id;
    },
    async token(role: 'read' | 'write', name: string = role): Promise<string> {
      const res = await t.call('POST', `/api/v1/projects/${project}/tokens`, { name, role });
      return res.json.token;
    },
  };
}
