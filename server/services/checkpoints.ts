import { and, asc, eq, sql } from 'drizzle-orm';
import { readSafetensorsHeader, safetensorsHeaderLength } from '../../plugins/model/safetensors.ts';
import { tokenizerFromFiles } from '../../plugins/model/tokenizers/load.ts';
import type { Db } from '../db/client.ts';
import { artifacts, checkpoints, runs } from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { Checkpoint } from '../schemas/checkpoints.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { lockRunFiles } from './artifacts.ts';
import { checkpointLayout } from './checkpoint-integrity.ts';
import type { Tx } from './registry.ts';

type CheckpointRow = typeof checkpoints.$inferSelect;
type ArtifactRow = typeof artifacts.$inferSelect;

/** Where a run's checkpoint files live among its artifacts, by step. */
export const checkpointPath = (step: number) => `checkpoints/step-${step}`;

const MiB = 1 << 20;
const MAX_CONFIG_BYTES = MiB;
// Hugging Face tokenizer.json files run to ~10 MiB (Llama 3); parsing one is the check.
const MAX_TOKENIZER_BYTES = 64 * MiB;

const bad = (message: string) => new AppError(400, 'bad_request', message);

/** The first `length` bytes of a blob (fewer if it is shorter), without reading the rest. */
async function readStart(store: BlobStore, key: string, length: number): Promise<Uint8Array> {
  const reader = (await store.open(key)).getReader();
  const out = new Uint8Array(length);
  let at = 0;
  try {
    while (at < length) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.byteLength, length - at);
      out.set(value.subarray(0, take), at);
      at += take;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return out.subarray(0, at);
}

const readText = async (store: BlobStore, key: string) =>
  new Response(await store.open(key)).text();

/** The weights parse as safetensors: header length, JSON header, offsets that fit the file. */
async function checkWeights(store: BlobStore, file: ArtifactRow, name: string) {
  try {
    const length = safetensorsHeaderLength(
      await readStart(store, file.storageKey, 8),
      file.sizeBytes,
    );
    const start = await readStart(store, file.storageKey, 8 + length);
    const { entries } = readSafetensorsHeader(start, file.sizeBytes);
    if (entries.length === 0) throw new Error('it holds no tensors');
  } catch (err) {
    throw bad(`${name}: not a safetensors file heldout can load (${(err as Error).message})`);
  }
}

async function readConfig(store: BlobStore, file: ArtifactRow, name: string) {
  if (file.sizeBytes > MAX_CONFIG_BYTES) throw bad(`${name}: larger than 1 MiB`);
  try {
    const value = JSON.parse(await readText(store, file.storageKey)) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value))
      throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw bad(`${name}: not a JSON object (${(err as Error).message})`);
  }
}

/**
 * A full checkpoint needs a tokenizer that serving and evaluation find beside its weights: the
 * loaders' own rule (tokenizerFromFiles) applied to the uploaded files, so what registers loads.
 */
async function checkTokenizer(store: BlobStore, prefix: string, files: ArtifactRow[]) {
  const read = async (name: string) => {
    const file = files.find((f) => f.path === `${prefix}/${name}`);
    if (!file) return undefined;
    if (file.sizeBytes > MAX_TOKENIZER_BYTES)
      throw new Error(`${prefix}/${name} is larger than ${MAX_TOKENIZER_BYTES / MiB} MiB`);
    return readText(store, file.storageKey);
  };
  try {
    await tokenizerFromFiles(read, prefix);
  } catch (err) {
    throw bad(`tokenizer: ${(err as Error).message}`);
  }
}

async function filesOf(tx: Tx, runId: string, prefix: string) {
  return tx
    .select()
    .from(artifacts)
    .where(and(eq(artifacts.runId, runId), sql`starts_with(${artifacts.path}, ${prefix + '/'})`))
    .orderBy(asc(artifacts.path));
}

/**
 * Registers the checkpoint of `step` whose files the run already uploaded as artifacts under
 * `checkpoints/step-N/`. Its identity (sha256, size) is the server's own hash of the weights
 * file, never a number the client sends. What loading needs is checked first, each failure a 400
 * naming the file: weights that parse as safetensors, a config that is a JSON object, and for a
 * full checkpoint a tokenizer the loaders find. From then on the files are immutable
 * (services/artifacts.ts), so registering a step again (a resumed run) returns the same
 * checkpoint, with its evaluations; as another kind it is a 409.
 *
 * @example
 * await registerCheckpoint(db, store, runId, { step: 100, kind: 'full' });
 */
export async function registerCheckpoint(
  db: Db,
  store: BlobStore,
  runId: string,
  input: { step: number; kind: 'full' | 'adapter'; trainableParams?: number; totalParams?: number },
): Promise<CheckpointRow> {
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  if (!run) throw notFound(`run ${runId}`);
  const prefix = checkpointPath(input.step);
  // Under the run's file lock: no upload changes these files between the checks and the insert.
  return db.transaction(async (tx) => {
    await lockRunFiles(tx, runId);
    const [existing] = await tx
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.runId, runId), eq(checkpoints.step, input.step)));
    if (existing) {
      if (existing.kind === input.kind) return existing;
      throw new AppError(
        409,
        'conflict',
        `step: ${input.step} is already checkpoint ${existing.id}, a ${existing.kind} checkpoint; registered checkpoints are immutable`,
      );
    }
    const files = await filesOf(tx, runId, prefix);
    const named = (name: string) => files.find((f) => f.path === `${prefix}/${name}`);
    const { weights: weightsName, config: configName } = checkpointLayout[input.kind];
    const weights = named(weightsName);
    const config = named(configName);
    for (const [name, found] of [
      [weightsName, weights],
      [configName, config],
    ] as const) {
      if (!found) {
        throw bad(
          `step: upload ${prefix}/${name} as an artifact of this run before registering the checkpoint`,
        );
      }
    }
    await checkWeights(store, weights!, weightsName);
    const modelConfig = await readConfig(store, config!, configName);
    // An adapter is served and evaluated with its base's tokenizer.
    if (input.kind === 'full') await checkTokenizer(store, prefix, files);
    const [row] = await tx
      .insert(checkpoints)
      .values({
        projectId: run.projectId,
        runId,
        kind: input.kind,
        step: input.step,
        sha256: weights!.sha256,
        sizeBytes: weights!.sizeBytes,
        trainableParams: input.trainableParams ?? null,
        totalParams: input.totalParams ?? null,
        baseCheckpointId: run.baseCheckpointId,
        storageKey: prefix,
        modelConfig,
      })
      .returning();
    return row!;
  });
}

// A checkpoint directory lists its files in full unless it holds an absurd number of them.
const MAX_FILES_SHOWN = 10_000;

/**
 * Checkpoints as the API shows them, each with its files (the run's artifacts under its path),
 * read in one query for all of them. Files are matched to a checkpoint by equality of one of
 * their parent directories with its path, a hash join: a prefix match against every checkpoint
 * would cost checkpoints x artifacts.
 *
 * @example
 * const [shown] = await presentCheckpoints(db, [row]);
 */
export async function presentCheckpoints(db: Db, rows: CheckpointRow[]): Promise<Checkpoint[]> {
  const ids = rows.filter((c) => c.runId).map((c) => c.id);
  const list = (values: string[]) =>
    sql.join(
      values.map((v) => sql`${v}::uuid`),
      sql`, `,
    );
  const runIds = [...new Set(rows.flatMap((c) => (c.runId ? [c.runId] : [])))];
  const files = ids.length
    ? ((await db.execute(sql`
        select checkpoint_id, path, size_bytes, sha256 from (
          select c.id as checkpoint_id, a.path, a.size_bytes, a.sha256,
            row_number() over (partition by c.id order by a.path) as n
          from artifacts a
          cross join lateral (
            select array_to_string(p.parts[1:i], '/') as dir
            from (select string_to_array(a.path, '/') as parts) p,
              generate_series(1, cardinality(p.parts) - 1) i
          ) d
          join checkpoints c on c.run_id = a.run_id and c.storage_key = d.dir
          where a.run_id in (${list(runIds)}) and c.id in (${list(ids)})
        ) f
        where n <= ${MAX_FILES_SHOWN}
        order by checkpoint_id, path`)) as unknown as {
        checkpoint_id: string;
        path: string;
        size_bytes: string | number;
        sha256: string;
      }[])
    : [];
  const byCheckpoint = new Map<string, typeof files>();
  for (const f of files) {
    const list = byCheckpoint.get(f.checkpoint_id);
    if (list) list.push(f);
    else byCheckpoint.set(f.checkpoint_id, [f]);
  }
  return rows.map((c) => ({
    id: c.id,
    projectId: c.projectId,
    runId: c.runId,
    kind: c.kind,
    step: c.step,
    sha256: c.sha256,
    sizeBytes: c.sizeBytes,
    trainableParams: c.trainableParams,
    totalParams: c.totalParams,
    baseCheckpointId: c.baseCheckpointId,
    path: c.storageKey,
    files: (byCheckpoint.get(c.id) ?? []).map((f) => ({
      name: f.path.slice(c.storageKey.length + 1),
      sizeBytes: Number(f.size_bytes),
      sha256: f.sha256,
    })),
    modelConfig: c.modelConfig as Record<string, unknown>,
    createdAt: c.createdAt.toISOString(),
  }));
}

export async function runCheckpoints(db: Db, runId: string): Promise<CheckpointRow[]> {
  // Unpaged, so bounded: no list endpoint answers with an unbounded number of rows.
  return db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, runId))
    .orderBy(asc(checkpoints.step))
    .limit(10_000);
}

export async function findCheckpoint(db: Db, id: string): Promise<CheckpointRow> {
  const [row] = await db.select().from(checkpoints).where(eq(checkpoints.id, id));
  if (!row) throw notFound(`checkpoint ${id}`);
  return row;
}
