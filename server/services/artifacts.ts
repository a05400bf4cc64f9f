import { createHash } from 'node:crypto';
import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { artifacts, checkpoints, runs } from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { Artifact, ArtifactList } from '../schemas/artifacts.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { checkQuotaAtCommit, guardUpload, type StorageLimits } from './storage-quota.ts';
import type { Tx } from './registry.ts';

type ArtifactRow = typeof artifacts.$inferSelect;

export const presentArtifact = (a: ArtifactRow): Artifact => ({
  runId: a.runId,
  path: a.path,
  sizeBytes: a.sizeBytes,
  sha256: a.sha256,
  contentType: a.contentType,
  createdAt: a.createdAt.toISOString(),
});

/**
 * Serialises every change to a run's files with the registration of its checkpoints, so that no
 * upload lands between a checkpoint's files being read and the checkpoint being recorded.
 *
 * @example
 * await db.transaction(async (tx) => { await lockRunFiles(tx, runId); ... });
 */
export async function lockRunFiles(tx: Tx, runId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`run-files:${runId}`}, 0))`);
}

/**
 * The registered checkpoint of the run that holds `path` (a file under its directory) or, with
 * `orBelow`, one that lies under `path` (a directory being deleted).
 */
async function checkpointAt(tx: Tx, runId: string, path: string, { orBelow = false } = {}) {
  const key = checkpoints.storageKey;
  const [holder] = await tx
    .select({ id: checkpoints.id, step: checkpoints.step, path: key })
    .from(checkpoints)
    .where(
      and(
        eq(checkpoints.runId, runId),
        orBelow
          ? sql`(starts_with(${path}, ${key} || '/') or ${key} = ${path} or starts_with(${key}, ${`${path}/`}))`
          : sql`starts_with(${path}, ${key} || '/')`,
      ),
    )
    .limit(1);
  return holder;
}

type Holder = { id: string; step: number | null; path: string };

/** The 409 of a change to a registered checkpoint's files; `what` says which change and names it. */
const immutable = (holder: Holder, what: (checkpoint: string) => string) =>
  new AppError(
    409,
    'conflict',
    `path: ${what(
      `checkpoint ${holder.id} (${holder.step === null ? holder.path : `step ${holder.step}`})`,
    )}: registered checkpoints are immutable; write the files under a new step instead`,
    { checkpointId: holder.id, step: holder.step },
  );

/**
 * Stores `body` as the artifact at `path`, replacing what was there (last write wins), except
 * under a registered checkpoint's directory: its files are immutable, so replacing one, or adding
 * a file beside them, is a 409 naming the checkpoint. Sending a file's own bytes again is
 * accepted and changes nothing (200), so a worker that retries an upload whose answer it lost,
 * or a resumed run that writes the same step again, is not failed. The bytes reach the store
 * before the row changes, so a failed or refused upload leaves the old artifact. The project's
 * storage quota and the disk's floor are kept while the body streams (413, 503; see
 * storage-quota.ts), counting the file it replaces as freed.
 *
 * @example
 * const { artifact, created } = await putArtifact(db, store, { runId, path: 'a.txt', body, limits });
 */
export async function putArtifact(
  db: Db,
  store: BlobStore,
  input: {
    runId: string;
    path: string;
    body: AsyncIterable<Uint8Array>;
    contentType?: string;
    limits: StorageLimits;
  },
): Promise<{ artifact: ArtifactRow; created: boolean }> {
  const [target] = await db
    .select({ projectId: runs.projectId, replacesBytes: artifacts.sizeBytes })
    .from(runs)
    .leftJoin(artifacts, and(eq(artifacts.runId, runs.id), eq(artifacts.path, input.path)))
    .where(eq(runs.id, input.runId));
  if (!target) throw notFound(`run ${input.runId}`);
  // Decided before any byte is stored: a refused write must leave no blob behind, or repeating it
  // would fill the disk with files that no quota counts.
  const holder = await checkpointAt(db, input.runId, input.path);
  if (holder) return unchangedCheckpointFile(db, holder, input);
  const { projectId } = target;
  const replacesBytes = target.replacesBytes ?? 0;
  const body = await guardUpload(db, store, input.limits, { projectId, replacesBytes }, input.body);
  const blob = await store.put(body);
  const values = {
    runId: input.runId,
    path: input.path,
    sizeBytes: blob.sizeBytes,
    sha256: blob.sha256,
    contentType: input.contentType ?? null,
    storageKey: blob.key,
  };
  return db.transaction(async (tx) => {
    await lockRunFiles(tx, input.runId);
    // Again under the lock: the checkpoint may have been registered while the body streamed.
    const registered = await checkpointAt(tx, input.runId, input.path);
    if (registered) {
      const existing = await artifactAt(tx, input.runId, input.path);
      if (existing?.sha256 === blob.sha256) return { artifact: existing, created: false };
      throw refusedWrite(registered, input.path, existing);
    }
    const replaced = await artifactAt(tx, input.runId, input.path);
    await checkQuotaAtCommit(
      tx,
      input.limits,
      { projectId, replacesBytes: replaced?.sizeBytes },
      blob.sizeBytes,
    );
    const [row] = await tx
      .insert(artifacts)
      .values(values)
      .onConflictDoUpdate({
        target: [artifacts.runId, artifacts.path],
        set: { ...values, createdAt: sql`now()` },
      })
      // xmax is 0 only for a freshly inserted tuple: the one way to tell insert from update here.
      .returning({ ...getTableColumns(artifacts), created: sql<boolean>`(xmax = 0)` });
    const { created, ...artifact } = row!;
    return { artifact, created };
  });
}

const artifactAt = async (tx: Tx, runId: string, path: string) =>
  (
    await tx
      .select()
      .from(artifacts)
      .where(and(eq(artifacts.runId, runId), eq(artifacts.path, path)))
  )[0];

const refusedWrite = (holder: Holder, path: string, existing: ArtifactRow | undefined) =>
  immutable(holder, (c) =>
    existing ? `cannot replace "${path}", a file of ${c}` : `cannot add "${path}" to ${c}`,
  );

/**
 * A write under a registered checkpoint: only a file's own bytes again (a retried upload) are
 * accepted. The body is hashed without being stored, and read no further than the file's size.
 */
async function unchangedCheckpointFile(
  db: Db,
  holder: Holder,
  input: { runId: string; path: string; body: AsyncIterable<Uint8Array> },
): Promise<{ artifact: ArtifactRow; created: boolean }> {
  const existing = await artifactAt(db, input.runId, input.path);
  if (!existing) throw refusedWrite(holder, input.path, existing);
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of input.body) {
    sizeBytes += chunk.byteLength;
    if (sizeBytes > existing.sizeBytes) throw refusedWrite(holder, input.path, existing);
    hash.update(chunk);
  }
  if (hash.digest('hex') !== existing.sha256) throw refusedWrite(holder, input.path, existing);
  return { artifact: existing, created: false };
}

/**
 * One artifact's row.
 *
 * @example
 * const row = await findArtifact(db, runId, 'eval/samples.jsonl');
 */
export async function findArtifact(db: Db, runId: string, path: string): Promise<ArtifactRow> {
  const [row] = await db
    .select()
    .from(artifacts)
    .where(and(eq(artifacts.runId, runId), eq(artifacts.path, path)))
    .limit(1);
  if (!row) throw notFound(`artifact "${path}"`);
  return row;
}

/**
 * A page of a run's artifacts in path order, optionally under `prefix`. The page token is the
 * last path of the previous page, so pages stay stable while artifacts are added.
 *
 * @example
 * const { artifacts, nextPageToken } = await listArtifacts(db, runId, { prefix: 'eval/', limit: 100 });
 */
export async function listArtifacts(
  db: Db,
  runId: string,
  query: { prefix?: string; limit: number; pageToken?: string },
): Promise<ArtifactList> {
  const after = query.pageToken === undefined ? undefined : decodePageToken(query.pageToken);
  const rows = await db
    .select()
    .from(artifacts)
    .where(
      and(
        eq(artifacts.runId, runId),
        query.prefix ? sql`starts_with(${artifacts.path}, ${query.prefix})` : undefined,
        after === undefined ? undefined : sql`${artifacts.path} collate "C" > ${after}`,
      ),
    )
    // Byte order (COLLATE "C"), so the keyset comparison and the order agree in every locale.
    .orderBy(asc(sql`${artifacts.path} collate "C"`))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const more = rows.length > query.limit;
  return {
    artifacts: page.map(presentArtifact),
    nextPageToken: more ? Buffer.from(page.at(-1)!.path).toString('base64url') : null,
  };
}

function decodePageToken(token: string): string {
  const path = Buffer.from(token, 'base64url').toString('utf8');
  if (!path || Buffer.from(path).toString('base64url') !== token) {
    throw new AppError(400, 'validation_failed', 'pageToken: not a token this server issued');
  }
  return path;
}

/** One entry of a directory listing: a file, or a directory synthesised from path prefixes. */
export interface ArtifactEntry {
  name: string;
  isDir: boolean;
  /** The file's size; null for a directory. */
  sizeBytes: number | null;
}

/**
 * The direct children of `dir` ("" for the run's root) in byte order. heldout stores flat paths,
 * so a directory is any first segment that more paths continue under; one query, grouped in
 * Postgres, whatever the number of files below.
 *
 * @example
 * await listArtifactDirectory(db, runId, 'eval'); // [{ name: 'samples.jsonl', isDir: false, ... }]
 */
export async function listArtifactDirectory(
  db: Db,
  runId: string,
  dir: string,
): Promise<ArtifactEntry[]> {
  const prefix = dir ? `${dir}/` : '';
  // The offset is a number this function computed, inlined so that the grouped and the ordered
  // expressions are the same text (bound parameters would make them differ to Postgres).
  const rest = sql`substr(${artifacts.path}, ${sql.raw(String(prefix.length + 1))})`;
  const name = sql<string>`split_part(${rest}, '/', 1)`;
  const isDir = sql<boolean>`strpos(${rest}, '/') > 0`;
  const rows = await db
    .select({ name, isDir, sizeBytes: sql<number>`max(${artifacts.sizeBytes})::float8` })
    .from(artifacts)
    .where(and(eq(artifacts.runId, runId), sql`starts_with(${artifacts.path}, ${prefix})`))
    .groupBy(name, isDir)
    .orderBy(sql`${name} collate "C"`, isDir)
    // MLflow's listing has no pages; a directory of more entries than this is shown cut short.
    .limit(10_000);
  return rows.map((r) => ({ ...r, sizeBytes: r.isDir ? null : Number(r.sizeBytes) }));
}

/**
 * Deletes the artifact at `path`, or every artifact under it when it names a directory, and says
 * how many went; 404 when nothing did, 409 when a registered checkpoint's files would go (they are
 * immutable). Only the rows go: blobs are content-addressed and may be shared by other artifacts
 * (of any run), so their bytes stay on disk until the blob collector (storage-gc.ts) finds no row
 * referencing them.
 *
 * @example
 * await deleteArtifacts(db, runId, 'eval'); // removes eval/a.jsonl, eval/b/c.txt, ...
 */
export async function deleteArtifacts(db: Db, runId: string, path: string): Promise<number> {
  return db.transaction(async (tx) => {
    await lockRunFiles(tx, runId);
    const holder = await checkpointAt(tx, runId, path, { orBelow: true });
    if (holder)
      throw immutable(holder, (c) => `cannot delete "${path}", which holds files of ${c}`);
    const gone = await tx
      .delete(artifacts)
      .where(
        and(
          eq(artifacts.runId, runId),
          sql`(${artifacts.path} = ${path} or starts_with(${artifacts.path}, ${`${path}/`}))`,
        ),
      )
      .returning({ path: artifacts.path });
    if (gone.length === 0) throw notFound(`artifact "${path}"`);
    return gone.length;
  });
}
