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

export async function presentCheckpoints(db: Db, rows: CheckpointRow[]): Promise<Checkpoint[]> {
  return Promise.all(
    rows.map(async (c) => ({
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
      files: c.runId
        ? (await filesOf(db, c.runId, c.storageKey)).map((f) => ({
            name: f.path.slice(c.storageKey.length + 1),
            sizeBytes: f.sizeBytes,
            sha256: f.sha256,
          }))
        : [],
      modelConfig: c.modelConfig as Record<string, unknown>,
      createdAt: c.createdAt.toISOString(),
    })),
  );
}

export async function runCheckpoints(db: Db, runId: string): Promise<CheckpointRow[]> {
  return db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, runId))
    .orderBy(asc(checkpoints.step));
}

export async function findCheckpoint(db: Db, id: string): Promise<CheckpointRow> {
  const [row] = await db.select().from(checkpoints).where(eq(checkpoints.id, id));
  if (!row) throw notFound(`checkpoint ${id}`);
  return row;
}
