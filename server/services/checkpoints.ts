import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { artifacts, checkpoints, runs } from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { Checkpoint } from '../schemas/checkpoints.ts';
import type { BlobStore } from '../storage/blob-store.ts';

type CheckpointRow = typeof checkpoints.$inferSelect;

/** Where a run's checkpoint files live among its artifacts, by step. */
export const checkpointPath = (step: number) => `checkpoints/step-${step}`;

// The file that identifies a checkpoint (its sha256 is the checkpoint's) and the config beside it.
const layout = {
  full: { weights: 'model.safetensors', config: 'config.json' },
  adapter: { weights: 'adapter_model.safetensors', config: 'adapter_config.json' },
} as const;

const MAX_CONFIG_BYTES = 1 << 20;

async function readJson(store: BlobStore, key: string): Promise<Record<string, unknown>> {
  const text = await new Response(await store.open(key)).text();
  const value = JSON.parse(text) as unknown;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
  return value as Record<string, unknown>;
}

async function filesOf(db: Db, runId: string, prefix: string) {
  return db
    .select()
    .from(artifacts)
    .where(and(eq(artifacts.runId, runId), sql`starts_with(${artifacts.path}, ${prefix + '/'})`))
    .orderBy(asc(artifacts.path));
}

/**
 * Registers the checkpoint of `step` whose files the run already uploaded as artifacts under
 * `checkpoints/step-N/`. Its identity (sha256, size) is the server's own hash of the weights
 * file, never a number the client sends. Registering a step again (a resumed run) replaces it.
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
  const files = await filesOf(db, runId, prefix);
  const named = (name: string) => files.find((f) => f.path === `${prefix}/${name}`);
  const { weights: weightsName, config: configName } = layout[input.kind];
  const weights = named(weightsName);
  const config = named(configName);
  for (const [name, found] of [
    [weightsName, weights],
    [configName, config],
  ] as const) {
    if (!found) {
      throw new AppError(
        400,
        'bad_request',
        `step: upload ${prefix}/${name} as an artifact of this run before registering the checkpoint`,
      );
    }
  }
  if (config!.sizeBytes > MAX_CONFIG_BYTES)
    throw new AppError(400, 'bad_request', `${configName}: larger than 1 MiB`);
  let modelConfig: Record<string, unknown>;
  try {
    modelConfig = await readJson(store, config!.storageKey);
  } catch (err) {
    throw new AppError(
      400,
      'bad_request',
      `${configName}: not a JSON object (${(err as Error).message})`,
    );
  }
  const values = {
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
  };
  const [row] = await db
    .insert(checkpoints)
    .values(values)
    .onConflictDoUpdate({
      target: [checkpoints.runId, checkpoints.step],
      targetWhere: sql`${checkpoints.runId} is not null`,
      set: { ...values, createdAt: sql`now()` },
    })
    .returning();
  return row!;
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
