import { randomUUID } from 'node:crypto';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import {
  checkpoints,
  datasets,
  datasetVersions,
  runDatasets,
  runParams,
  runs,
  runTags,
} from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { SubmitInfo } from '../../plugins/sdk/index.ts';
import { RUN_VIEW_METRICS, type CreateRun, type Run, type RunStatus } from '../schemas/runs.ts';
import { baseContextLength } from './base-context.ts';
import { insertTrainJob } from './jobs.ts';
import { encodeValue } from './metric-values.ts';

type RunRow = typeof runs.$inferSelect;

const terminal: ReadonlySet<RunStatus> = new Set(['finished', 'failed', 'cancelled']);
const next: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['running', 'finished', 'failed', 'cancelled'],
  // Back to queued only through the job queue, when a failed attempt waits for its retry.
  running: ['finished', 'failed', 'cancelled'],
  finished: [],
  failed: [],
  cancelled: [],
};

/** Other checkpoints a trainer reads, by role, with the config field that named each. */
export type ModelRefs = Record<string, { checkpointId: string; field: string }>;

/**
 * The checkpoints a plugin's config names in its `checkpointFields` (PPO's reward model).
 *
 * @example
 * modelRefs({ reward: 'rewardCheckpointId' }, { rewardCheckpointId: id }); // { reward: { checkpointId: id, field: 'rewardCheckpointId' } }
 */
export function modelRefs(
  fields: Readonly<Record<string, string>> | undefined,
  config: Record<string, unknown> | undefined,
): ModelRefs {
  const refs: ModelRefs = {};
  for (const [role, field] of Object.entries(fields ?? {})) {
    const id = config?.[field];
    if (typeof id === 'string') refs[role] = { checkpointId: id, field };
  }
  return refs;
}

/** The project a run belongs to, for authorisation; 404 when there is no such run. */
export async function runProjectId(db: Db, runId: string): Promise<number> {
  const [row] = await db
    .select({ projectId: runs.projectId })
    .from(runs)
    .where(and(eq(runs.id, runId), isNull(runs.deletedAt)))
    .limit(1);
  if (!row) throw notFound(`run ${runId}`);
  return row.projectId;
}

/**
 * Checks that `id` names a checkpoint of the project; one a trainer reads must also have been
 * written by a run, since workers fetch its files from that run. `field` names it in the error.
 */
async function assertCheckpoint(
  db: Db,
  projectId: number,
  id: string,
  field: string,
  trained: boolean,
): Promise<void> {
  const [c] = await db
    .select({ projectId: checkpoints.projectId, runId: checkpoints.runId })
    .from(checkpoints)
    .where(eq(checkpoints.id, id));
  if (c?.projectId !== projectId)
    throw new AppError(400, 'bad_request', `${field}: no checkpoint ${id} in this project`);
  if (trained && !c.runId)
    throw new AppError(
      400,
      'bad_request',
      `${field}: checkpoint ${id} was not written by a run; trainers read run checkpoints or the shipped base`,
    );
}

async function assertInProject(
  db: Db,
  projectId: number,
  input: CreateRun,
  models: ModelRefs,
): Promise<void> {
  if (input.baseCheckpointId)
    await assertCheckpoint(
      db,
      projectId,
      input.baseCheckpointId,
      'baseCheckpointId',
      !!input.plugin,
    );
  for (const ref of Object.values(models))
    await assertCheckpoint(db, projectId, ref.checkpointId, `config.${ref.field}`, true);
  if (input.parentRunId) {
    const [r] = await db
      .select({ projectId: runs.projectId })
      .from(runs)
      .where(eq(runs.id, input.parentRunId));
    if (r?.projectId !== projectId)
      throw new AppError(
        400,
        'bad_request',
        `parentRunId: no run ${input.parentRunId} in this project`,
      );
  }
  const ids = [...new Set((input.datasets ?? []).map((d) => d.datasetVersionId))];
  const found = await projectDatasetVersions(db, projectId, ids);
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length)
    throw new AppError(
      400,
      'bad_request',
      `datasets: no dataset version ${missing.join(', ')} in this project`,
    );
}

/** The kind and size of each of `ids` that is a dataset version of the project. */
async function projectDatasetVersions(db: Db, projectId: number, ids: number[]) {
  if (!ids.length)
    return new Map<number, { kind: SubmitInfo['datasets'][number]['kind']; rowCount: number }>();
  const rows = await db
    .select({ id: datasetVersions.id, kind: datasets.kind, rowCount: datasetVersions.rowCount })
    .from(datasetVersions)
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(and(inArray(datasetVersions.id, ids), eq(datasets.projectId, projectId)));
  return new Map(rows.map((r) => [r.id, { kind: r.kind, rowCount: r.rowCount }]));
}

/** What a plugin may check at submission: the kind and size of each dataset the run names. */
export async function submitInfo(db: Db, projectId: number, input: CreateRun): Promise<SubmitInfo> {
  const links = (input.datasets ?? []).filter((d) => d.role !== 'eval');
  const found = await projectDatasetVersions(
    db,
    projectId,
    links.map((l) => l.datasetVersionId),
  );
  const [base] = input.baseCheckpointId
    ? await db
        .select({
          kind: checkpoints.kind,
          totalParams: checkpoints.totalParams,
          modelConfig: checkpoints.modelConfig,
        })
        .from(checkpoints)
        .where(
          and(eq(checkpoints.id, input.baseCheckpointId), eq(checkpoints.projectId, projectId)),
        )
    : [];
  const peftType = (base?.modelConfig as { peft_type?: unknown } | null)?.peft_type;
  return {
    datasets: links.flatMap((l) => {
      const row = found.get(l.datasetVersionId);
      return row ? [{ role: l.role as 'train' | 'validation', ...row }] : [];
    }),
    baseModel: base && {
      kind: base.kind,
      totalParams: base.totalParams ?? undefined,
      peftType: base.kind === 'adapter' && typeof peftType === 'string' ? peftType : undefined,
    },
    contextLength: await baseContextLength(db, projectId, input.baseCheckpointId ?? undefined),
  };
}

/**
 * Creates a run with its params, tags and datasets in one transaction. A run with a plugin waits
 * in `queued` for a worker; a run logged from outside starts `running` at once.
 *
 * @example
 * const run = await createRun(db, project.id, { name: 'lora-r8', params: { lr: '3e-4' } });
 */
export async function createRun(
  db: Db,
  projectId: number,
  input: CreateRun,
  createdByTokenId?: number,
  models: ModelRefs = {},
): Promise<RunRow> {
  await assertInProject(db, projectId, input, models);
  const id = randomUUID();
  const [pluginName, pluginVersion] = input.plugin ? input.plugin.split(/(?<=.)@/) : [];
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(runs)
      .values({
        id,
        projectId,
        name: input.name ?? `run-${id.slice(0, 8)}`,
        status: input.plugin ? 'queued' : 'running',
        plugin: pluginName ?? null,
        pluginVersion: pluginVersion ?? null,
        config: input.config ?? null,
        baseCheckpointId: input.baseCheckpointId ?? null,
        parentRunId: input.parentRunId ?? null,
        backend: input.backend ?? null,
        device: input.device ?? null,
        createdByTokenId: createdByTokenId ?? null,
        startedAt: input.plugin ? null : new Date(),
      })
      .returning();
    const params = Object.entries(input.params ?? {}).map(([key, value]) => ({
      runId: id,
      key,
      value,
    }));
    if (params.length) await tx.insert(runParams).values(params);
    const tags = Object.entries(input.tags ?? {}).map(([key, value]) => ({
      runId: id,
      key,
      value,
    }));
    if (tags.length) await tx.insert(runTags).values(tags);
    const links = (input.datasets ?? []).map((d) => ({ runId: id, ...d }));
    if (links.length) await tx.insert(runDatasets).values(links).onConflictDoNothing();
    if (input.plugin) {
      const roles = Object.fromEntries(
        Object.entries(models).map(([role, ref]) => [role, ref.checkpointId]),
      );
      await insertTrainJob(tx, projectId, id, { models: roles });
    }
    return row!;
  });
}

export async function findRun(db: Db, runId: string): Promise<RunRow> {
  const [row] = await db.select().from(runs).where(eq(runs.id, runId)).limit(1);
  if (!row) throw notFound(`run ${runId}`);
  return row;
}

/** Runs by id, in the order of `ids` (a search's order). */
export async function findRuns(db: Db, ids: string[]): Promise<RunRow[]> {
  if (!ids.length) return [];
  const rows = await db.select().from(runs).where(inArray(runs.id, ids));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** Items by run id, in one pass: the run view handles every metric key of a run. */
function byRun<T extends { runId: string }>(items: readonly T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const list = map.get(item.runId);
    if (list) list.push(item);
    else map.set(item.runId, [item]);
  }
  return map;
}

/**
 * The first RUN_VIEW_METRICS + 1 latest metrics of each run by key (one more says it has more):
 * a lateral join walks each run's (run_id, key) index only that far, however many keys it has.
 */
async function latestMetrics(db: Db, ids: string[]) {
  const rows = (await db.execute(sql`
    select r.id as run_id, m.key, m.last_step, m.last_value, m.last_wall_time
    from runs r cross join lateral (
      select key, last_step, last_value, last_wall_time from metric_series s
      where s.run_id = r.id order by key limit ${RUN_VIEW_METRICS + 1}
    ) m
    where r.id in (${sql.join(
      ids.map((id) => sql`${id}::uuid`),
      sql`, `,
    )})`)) as unknown as {
    run_id: string;
    key: string;
    last_step: number | string;
    last_value: number;
    last_wall_time: number | string;
  }[];
  return rows.map((r) => ({
    runId: r.run_id,
    key: r.key,
    step: Number(r.last_step),
    value: r.last_value,
    wallTime: Number(r.last_wall_time),
  }));
}

/**
 * Params, tags, latest metrics (the first RUN_VIEW_METRICS by key, flagged when there are more)
 * and datasets of many runs, fetched in four queries and put together in time linear in the rows.
 */
export async function presentRuns(db: Db, rows: RunRow[]): Promise<Run[]> {
  const ids = rows.map((r) => r.id);
  if (!ids.length) return [];
  const [params, tags, metrics, links] = await Promise.all([
    db.select().from(runParams).where(inArray(runParams.runId, ids)),
    db.select().from(runTags).where(inArray(runTags.runId, ids)),
    latestMetrics(db, ids),
    db.select().from(runDatasets).where(inArray(runDatasets.runId, ids)),
  ]);
  const [p, t, m, d] = [byRun(params), byRun(tags), byRun(metrics), byRun(links)];
  const iso = (x: Date | null) => x?.toISOString() ?? null;
  return rows.map((r) => ({
    id: r.id,
    projectId: r.projectId,
    name: r.name,
    status: r.status,
    plugin: r.plugin,
    pluginVersion: r.pluginVersion,
    config: r.config ?? null,
    baseCheckpointId: r.baseCheckpointId,
    parentRunId: r.parentRunId,
    backend: r.backend,
    device: r.device,
    error: r.error,
    createdAt: r.createdAt.toISOString(),
    startedAt: iso(r.startedAt),
    endedAt: iso(r.endedAt),
    params: Object.fromEntries((p.get(r.id) ?? []).map((x) => [x.key, x.value])),
    tags: Object.fromEntries((t.get(r.id) ?? []).map((x) => [x.key, x.value])),
    metrics: Object.fromEntries(
      (m.get(r.id) ?? [])
        .slice(0, RUN_VIEW_METRICS)
        .map((x) => [x.key, { step: x.step, value: encodeValue(x.value), wallTime: x.wallTime }]),
    ),
    metricsTruncated: (m.get(r.id)?.length ?? 0) > RUN_VIEW_METRICS,
    datasets: (d.get(r.id) ?? []).map((x) => ({
      datasetVersionId: x.datasetVersionId,
      role: x.role,
    })),
  }));
}

export async function getRun(db: Db, runId: string): Promise<Run> {
  const [presented] = await presentRuns(db, [await findRun(db, runId)]);
  return presented!;
}

/** Renames, records errors and moves the status along queued -> running -> finished/failed/cancelled. */
export async function updateRun(
  db: Db,
  runId: string,
  patch: {
    status?: RunStatus;
    name?: string;
    error?: string;
    backend?: string;
    device?: string;
    /** When the run really started or ended, if the caller knows better than now (MLflow's times). */
    startedAt?: Date;
    endedAt?: Date;
  },
): Promise<RunRow> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(runs).where(eq(runs.id, runId)).for('update');
    if (!current) throw notFound(`run ${runId}`);
    const set: Partial<typeof runs.$inferInsert> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.error !== undefined) set.error = patch.error;
    if (patch.backend !== undefined) set.backend = patch.backend;
    if (patch.device !== undefined) set.device = patch.device;
    if (patch.status && patch.status !== current.status) {
      if (!next[current.status].includes(patch.status)) {
        throw new AppError(
          409,
          'conflict',
          `status: run is ${current.status} and cannot become ${patch.status}`,
        );
      }
      set.status = patch.status;
      if (patch.status === 'running' && !current.startedAt) set.startedAt = new Date();
      if (terminal.has(patch.status)) set.endedAt = new Date();
    }
    if (patch.startedAt) set.startedAt = patch.startedAt;
    if (patch.endedAt && terminal.has(set.status ?? current.status)) set.endedAt = patch.endedAt;
    if (!Object.keys(set).length) return current;
    const [row] = await tx.update(runs).set(set).where(eq(runs.id, runId)).returning();
    return row!;
  });
}

/**
 * Params are immutable: logging the same value again is fine, a different one is a 409 naming both,
 * and then nothing of the request is stored.
 */
export async function logParams(
  db: Db,
  runId: string,
  params: Record<string, string>,
): Promise<void> {
  const entries = Object.entries(params);
  if (!entries.length) return;
  await db.transaction(async (tx) => {
    await tx
      .insert(runParams)
      .values(entries.map(([key, value]) => ({ runId, key, value })))
      .onConflictDoNothing();
    const stored = await tx
      .select({ key: runParams.key, value: runParams.value })
      .from(runParams)
      .where(
        and(
          eq(runParams.runId, runId),
          inArray(
            runParams.key,
            entries.map(([k]) => k),
          ),
        ),
      );
    const conflicts = stored.filter((s) => params[s.key] !== s.value);
    if (conflicts.length) {
      const list = conflicts.map(
        (c) =>
          `"${c.key}" is already ${JSON.stringify(c.value)}, not ${JSON.stringify(params[c.key])}`,
      );
      throw new AppError(409, 'conflict', `params are immutable: ${list.join('; ')}`, {
        conflicts: conflicts.map((c) => ({ key: c.key, stored: c.value, given: params[c.key] })),
      });
    }
  });
}

/** Soft-deletes a run (hidden from search, still readable by id) or restores it. */
export async function setRunDeleted(db: Db, runId: string, deleted: boolean): Promise<RunRow> {
  const [row] = await db
    .update(runs)
    .set({ deletedAt: deleted ? sql`coalesce(${runs.deletedAt}, now())` : null })
    .where(eq(runs.id, runId))
    .returning();
  if (!row) throw notFound(`run ${runId}`);
  return row;
}

export async function setTags(db: Db, runId: string, tags: Record<string, string>): Promise<void> {
  const entries = Object.entries(tags);
  if (!entries.length) return;
  await db
    .insert(runTags)
    .values(entries.map(([key, value]) => ({ runId, key, value })))
    .onConflictDoUpdate({
      target: [runTags.runId, runTags.key],
      set: { value: sql`excluded.value` },
    });
}

export async function deleteTag(db: Db, runId: string, key: string): Promise<void> {
  const deleted = await db
    .delete(runTags)
    .where(and(eq(runTags.runId, runId), eq(runTags.key, key)))
    .returning({ key: runTags.key });
  if (!deleted.length) throw notFound(`tag "${key}" on run ${runId}`);
}
