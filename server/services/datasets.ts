import { and, asc, desc, eq, max, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import type { projects } from '../db/schema/index.ts';
import { datasets, datasetVersions } from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type {
  CleaningReport,
  Dataset,
  DatasetVersion,
  DatasetVersionSummary,
} from '../schemas/datasets.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { LineSplitter } from '../storage/lines.ts';
import { CleaningReporter } from './dataset-cleaning.ts';
import { RowValidator, type DatasetKind } from './datasets-rows.ts';
import { checkQuotaAtCommit, guardUpload, type StorageLimits } from './storage-quota.ts';

// One row is held in memory while it is validated, so a file without newlines must not become
// one row the size of the upload; no real training example comes near this.
export const MAX_ROW_BYTES = 16 * 1024 ** 2;

type ProjectRow = typeof projects.$inferSelect;
type DatasetRow = typeof datasets.$inferSelect;
type VersionRow = typeof datasetVersions.$inferSelect;

export const presentVersionSummary = (v: VersionRow): DatasetVersionSummary => ({
  id: v.id,
  version: v.version,
  sha256: v.sha256,
  sizeBytes: v.sizeBytes,
  rowCount: v.rowCount,
  createdAt: v.createdAt.toISOString(),
});

export const presentVersion = (p: ProjectRow, d: DatasetRow, v: VersionRow): DatasetVersion => ({
  project: p.name,
  dataset: d.name,
  kind: d.kind,
  ...presentVersionSummary(v),
  cleaningReport: v.cleaningReport as CleaningReport,
});

export const presentDataset = (d: DatasetRow, latestVersion: number | null): Dataset => ({
  id: d.id,
  name: d.name,
  kind: d.kind,
  description: d.description,
  createdAt: d.createdAt.toISOString(),
  latestVersion,
});

const kindConflict = (name: string, has: DatasetKind, sent: DatasetKind) =>
  new AppError(409, 'conflict', `dataset "${name}" holds ${has} rows, not ${sent}`, {
    kind: has,
  });

async function findDatasetOrNull(db: Db, projectId: number, name: string) {
  const [row] = await db
    .select()
    .from(datasets)
    .where(and(eq(datasets.projectId, projectId), eq(datasets.name, name)))
    .limit(1);
  return row ?? null;
}

/**
 * Reads a JSONL upload once, as it streams: validates every row, builds the cleaning report, and
 * stores the bytes. Identical bytes return the version that already holds them (`created` false);
 * new bytes become the next version. Nothing is stored when a row is invalid or a cap is hit,
 * the project's storage quota would be passed (413) or the disk is below its floor (503).
 *
 * @example
 * const { version, created } = await uploadDatasetVersion(db, store, {
 *   project, name: 'support-sft', kind: 'sft', body, maxRows: 1_000_000, tokenId: 1, limits,
 * });
 */
export async function uploadDatasetVersion(
  db: Db,
  store: BlobStore,
  input: {
    project: ProjectRow;
    name: string;
    kind?: DatasetKind;
    body: AsyncIterable<Uint8Array>;
    maxRows: number;
    tokenId: number | null;
    limits: StorageLimits;
  },
): Promise<{ dataset: DatasetRow; version: VersionRow; created: boolean }> {
  // Checked before reading the body, so a wrong kind costs nothing; checked again below for races.
  const existing = await findDatasetOrNull(db, input.project.id, input.name);
  const kind = input.kind ?? existing?.kind;
  if (!kind) {
    throw new AppError(400, 'validation_failed', 'kind: required for a new dataset', [
      { path: 'kind', message: 'required for a new dataset' },
    ]);
  }
  if (existing && existing.kind !== kind) throw kindConflict(input.name, existing.kind, kind);

  const cleaning = new CleaningReporter();
  const rows = new RowValidator(kind, input.maxRows, (line, fields) => cleaning.add(line, fields));
  const lines = new LineSplitter((line, text) => rows.accept(line, text), {
    maxBytes: MAX_ROW_BYTES,
    onTooLong: (line) => {
      throw new AppError(
        413,
        'payload_too_large',
        `line ${line}: a row may hold at most ${MAX_ROW_BYTES} bytes`,
        { maxRowBytes: MAX_ROW_BYTES, line },
      );
    },
  });
  async function* validated(body: AsyncIterable<Uint8Array>) {
    for await (const chunk of body) {
      lines.push(chunk);
      yield chunk;
    }
    lines.end();
    rows.end(); // throwing here still discards the stored bytes: the store has not committed
  }
  const target = { projectId: input.project.id };
  const body = await guardUpload(db, store, input.limits, target, input.body);
  const blob = await store.put(validated(body));
  const report = cleaning.report();

  return db.transaction(async (tx) => {
    await tx
      .insert(datasets)
      .values({ projectId: input.project.id, name: input.name, kind })
      .onConflictDoNothing();
    // The lock serialises uploads to one dataset, so version numbers are handed out in order.
    const [dataset] = await tx
      .select()
      .from(datasets)
      .where(and(eq(datasets.projectId, input.project.id), eq(datasets.name, input.name)))
      .for('update');
    if (dataset!.kind !== kind) throw kindConflict(input.name, dataset!.kind, kind);
    const [same] = await tx
      .select()
      .from(datasetVersions)
      .where(
        and(eq(datasetVersions.datasetId, dataset!.id), eq(datasetVersions.sha256, blob.sha256)),
      );
    if (same) return { dataset: dataset!, version: same, created: false };
    await checkQuotaAtCommit(tx, input.limits, target, blob.sizeBytes);
    const [counter] = await tx
      .select({ next: sql<number>`coalesce(max(${datasetVersions.version}), 0)::int + 1` })
      .from(datasetVersions)
      .where(eq(datasetVersions.datasetId, dataset!.id));
    const [version] = await tx
      .insert(datasetVersions)
      .values({
        datasetId: dataset!.id,
        version: counter!.next,
        sha256: blob.sha256,
        sizeBytes: blob.sizeBytes,
        rowCount: rows.rowCount,
        storageKey: blob.key,
        cleaningReport: report,
        createdByTokenId: input.tokenId,
      })
      .returning();
    return { dataset: dataset!, version: version!, created: true };
  });
}

/**
 * A project's datasets by name, with their latest version number.
 *
 * @example
 * const list = await listDatasets(db, project.id, 1000);
 */
export async function listDatasets(db: Db, projectId: number, limit: number): Promise<Dataset[]> {
  const rows = await db
    .select({ dataset: datasets, latest: max(datasetVersions.version) })
    .from(datasets)
    .leftJoin(datasetVersions, eq(datasetVersions.datasetId, datasets.id))
    .where(eq(datasets.projectId, projectId))
    .groupBy(datasets.id)
    .orderBy(asc(datasets.name))
    .limit(limit);
  return rows.map((r) => presentDataset(r.dataset, r.latest));
}

/**
 * A dataset with its versions, newest first.
 *
 * @example
 * const { dataset, versions } = await findDataset(db, project.id, 'support-sft');
 */
export async function findDataset(
  db: Db,
  projectId: number,
  name: string,
): Promise<{ dataset: DatasetRow; versions: VersionRow[] }> {
  const dataset = await findDatasetOrNull(db, projectId, name);
  if (!dataset) throw notFound(`dataset "${name}"`);
  const versions = await db
    .select()
    .from(datasetVersions)
    .where(eq(datasetVersions.datasetId, dataset.id))
    .orderBy(desc(datasetVersions.version))
    .limit(10_000);
  return { dataset, versions };
}

/**
 * One version of a dataset, by number or "latest".
 *
 * @example
 * const { dataset, version } = await findDatasetVersion(db, project.id, 'support-sft', 'latest');
 */
export async function findDatasetVersion(
  db: Db,
  projectId: number,
  name: string,
  version: string,
): Promise<{ dataset: DatasetRow; version: VersionRow }> {
  const dataset = await findDatasetOrNull(db, projectId, name);
  if (!dataset) throw notFound(`dataset "${name}"`);
  const [row] = await db
    .select()
    .from(datasetVersions)
    .where(
      and(
        eq(datasetVersions.datasetId, dataset.id),
        version === 'latest' ? undefined : eq(datasetVersions.version, Number(version)),
      ),
    )
    .orderBy(desc(datasetVersions.version))
    .limit(1);
  if (!row) throw notFound(`version ${version} of dataset "${name}"`);
  return { dataset, version: row };
}
