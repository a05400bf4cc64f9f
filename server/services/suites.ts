import { createHash } from 'node:crypto';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { canonical } from '../../evaluators/suite-runner.ts';
import type { Db } from '../db/client.ts';
import { datasets, datasetVersions, suites, suiteVersions } from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { z } from '@hono/zod-openapi';
import type { createSuiteBody, createSuiteVersionBody, suite } from '../schemas/suites.ts';

type SuiteRow = typeof suites.$inferSelect;
type SuiteVersionRow = typeof suiteVersions.$inferSelect;

export async function createSuite(
  db: Db,
  projectId: number,
  input: z.infer<typeof createSuiteBody>,
): Promise<SuiteRow> {
  const [row] = await db
    .insert(suites)
    .values({ projectId, ...input })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new AppError(409, 'conflict', `name: a suite "${input.name}" already exists`);
  return row;
}

export async function findSuite(db: Db, projectId: number, name: string): Promise<SuiteRow> {
  const [row] = await db
    .select()
    .from(suites)
    .where(and(eq(suites.projectId, projectId), eq(suites.name, name)));
  if (!row) throw notFound(`suite "${name}"`);
  return row;
}

/**
 * Freezes a suite version: an `eval` dataset version of the project, the metrics to score with and
 * the decoding to generate with. The same dataset, metrics and decoding as the newest version give
 * that version back (`created` false) rather than a copy.
 */
export async function addSuiteVersion(
  db: Db,
  s: SuiteRow,
  input: z.infer<typeof createSuiteVersionBody>,
): Promise<{ version: SuiteVersionRow; created: boolean }> {
  const [dv] = await db
    .select({ id: datasetVersions.id, rowCount: datasetVersions.rowCount, kind: datasets.kind })
    .from(datasetVersions)
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(
      and(eq(datasetVersions.id, input.datasetVersionId), eq(datasets.projectId, s.projectId)),
    );
  if (!dv)
    throw new AppError(
      400,
      'bad_request',
      `datasetVersionId: no dataset version ${input.datasetVersionId} in this project`,
    );
  if (dv.kind !== 'eval')
    throw new AppError(
      400,
      'bad_request',
      `datasetVersionId: a suite is made of eval cases ({id, input, expected}), not ${dv.kind} rows`,
    );
  const decodingHash = createHash('sha256').update(canonical(input.decoding)).digest('hex');
  return db.transaction(async (tx) => {
    const existing = await tx
      .select()
      .from(suiteVersions)
      .where(eq(suiteVersions.suiteId, s.id))
      .orderBy(asc(suiteVersions.version))
      .for('update');
    const newest = existing.at(-1);
    if (
      newest &&
      newest.datasetVersionId === dv.id &&
      canonical(newest.metrics) === canonical(input.metrics) &&
      newest.decodingHash === decodingHash &&
      newest.passThreshold === input.passThreshold
    )
      return { version: newest, created: false };
    const [row] = await tx
      .insert(suiteVersions)
      .values({
        suiteId: s.id,
        version: (newest?.version ?? 0) + 1,
        datasetVersionId: dv.id,
        metrics: input.metrics,
        decoding: input.decoding,
        decodingHash,
        passThreshold: input.passThreshold,
        caseCount: dv.rowCount,
      })
      .returning();
    return { version: row!, created: true };
  });
}

export async function presentSuites(db: Db, rows: SuiteRow[]): Promise<z.infer<typeof suite>[]> {
  const versions = rows.length
    ? await db
        .select()
        .from(suiteVersions)
        .where(
          inArray(
            suiteVersions.suiteId,
            rows.map((r) => r.id),
          ),
        )
        .orderBy(asc(suiteVersions.version))
    : [];
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    purpose: r.purpose,
    active: r.active,
    description: r.description,
    versions: versions
      .filter((v) => v.suiteId === r.id)
      .map((v) => ({
        id: v.id,
        version: v.version,
        datasetVersionId: v.datasetVersionId,
        metrics: v.metrics as string[],
        decoding: v.decoding as Record<string, unknown>,
        passThreshold: v.passThreshold,
        caseCount: v.caseCount,
        createdAt: v.createdAt.toISOString(),
      })),
  }));
}

/** The newest version of every active suite of a project: what each new checkpoint is scored on. */
export async function activeSuiteVersions(db: Db, projectId: number): Promise<SuiteVersionRow[]> {
  const rows = await db
    .select({ v: suiteVersions })
    .from(suiteVersions)
    .innerJoin(suites, eq(suites.id, suiteVersions.suiteId))
    .where(and(eq(suites.projectId, projectId), eq(suites.active, true)))
    .orderBy(asc(suiteVersions.suiteId), asc(suiteVersions.version));
  const newest = new Map<number, SuiteVersionRow>();
  for (const { v } of rows) newest.set(v.suiteId, v);
  return [...newest.values()];
}
