import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import {
  checkpoints,
  datasets,
  datasetVersions,
  evaluations,
  findings,
  jobs,
  runDatasets,
  runs,
} from '../db/schema/index.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { ClaimedEvaluation, ClaimedJob, ClaimedTraining, JobResult } from '../schemas/jobs.ts';
import { evaluationContext } from './evaluations.ts';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** What a train job carries beyond its run: the other checkpoints it reads, by role. */
interface TrainPayload {
  models: Record<string, string>;
}

/**
 * The job of a run submitted with a plugin, written in the run's own transaction. The queue hears
 * of it after the commit (`enqueueWaiting` sends whatever it has not heard of yet, so a crash in
 * between loses nothing): the job's id is the queue's id too, which makes sending idempotent.
 */
export async function insertTrainJob(
  tx: Tx,
  projectId: number,
  runId: string,
  payload: TrainPayload = { models: {} },
): Promise<string> {
  const [row] = await tx
    .insert(jobs)
    .values({ projectId, runId, kind: 'train', payload })
    .returning({ id: jobs.id });
  await tx.update(jobs).set({ queueJobId: row!.id }).where(eq(jobs.id, row!.id));
  return row!.id;
}

/** Sends the waiting jobs (of one run, or all) to the queue; already-queued ones are left as they are. */
export async function enqueueWaiting(db: Db, queue: JobQueue, runId?: string): Promise<number> {
  const waiting = await db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.status, 'queued'), runId ? eq(jobs.runId, runId) : undefined));
  for (const { id } of waiting) await queue.enqueue(id);
  return waiting.length;
}

/** Where a worker fetches a checkpoint's files: the run that wrote it, under its artifact prefix. */
async function checkpointSource(db: Db, id: string, field: string) {
  const [c] = await db.select().from(checkpoints).where(eq(checkpoints.id, id));
  if (!c?.runId) {
    throw new AppError(
      409,
      'conflict',
      `${field}: checkpoint ${id} is gone or was not produced by a run, and only run checkpoints can be read by trainers yet`,
    );
  }
  return { checkpointId: c.id, runId: c.runId, path: c.storageKey, sha256: c.sha256 };
}

async function describeJob(
  db: Db,
  jobId: string,
  runId: string,
  attempt: number,
  payload: Partial<TrainPayload>,
) {
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  if (!run) throw notFound(`run ${runId}`);
  const links = await db
    .select({
      role: runDatasets.role,
      kind: datasets.kind,
      name: datasets.name,
      version: datasetVersions.version,
      sha256: datasetVersions.sha256,
      rowCount: datasetVersions.rowCount,
    })
    .from(runDatasets)
    .innerJoin(datasetVersions, eq(datasetVersions.id, runDatasets.datasetVersionId))
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(and(eq(runDatasets.runId, runId), inArray(runDatasets.role, ['train', 'validation'])));
  let baseModel: ClaimedTraining['baseModel'] = { kind: 'builtin', name: 'tiny-base' };
  let baseAdapter: ClaimedTraining['baseAdapter'];
  if (run.baseCheckpointId) {
    const [start] = await db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.id, run.baseCheckpointId));
    const source = await checkpointSource(db, run.baseCheckpointId, 'baseCheckpointId');
    if (start?.kind === 'adapter') {
      baseAdapter = source;
      baseModel = await adapterBaseSource(db, start, 'baseCheckpointId');
    } else baseModel = { kind: 'checkpoint', ...source };
  }
  const models: ClaimedTraining['models'] = {};
  for (const [role, id] of Object.entries(payload.models ?? {}))
    models[role] = await checkpointSource(db, id, `models.${role}`);
  const [name = '', version] = (run.plugin ?? '').split(/(?<=.)@/);
  return {
    kind: 'train',
    job: { id: jobId, attempt },
    run: {
      id: run.id,
      projectId: run.projectId,
      name: run.name,
      plugin: name,
      pluginVersion: version ?? run.pluginVersion ?? null,
      config: (run.config ?? {}) as Record<string, unknown>,
    },
    baseModel,
    baseAdapter,
    models,
    datasets: links.map((l) => ({
      role: l.role as 'train' | 'validation',
      kind: l.kind,
      sha256: l.sha256,
      rowCount: l.rowCount,
      path: `/projects/${run.projectId}/datasets/${encodeURIComponent(l.name)}/versions/${l.version}/content`,
    })),
  } satisfies ClaimedTraining;
}

/** The shipped model a checkpoint row stands for (no run, storage key `builtin:<name>`), if any. */
export function builtinModelName(c: typeof checkpoints.$inferSelect): string | undefined {
  if (c.runId || !c.storageKey.startsWith('builtin:')) return undefined;
  return c.storageKey.slice('builtin:'.length) || undefined;
}

/** Where a worker finds a model: a shipped one by name, or a run checkpoint's files. */
async function modelSource(db: Db, c: typeof checkpoints.$inferSelect, field: string) {
  if (!c.runId) {
    const name = builtinModelName(c);
    if (!name) throw new AppError(409, 'conflict', `${field}: checkpoint ${c.id} has no files`);
    return { kind: 'builtin' as const, name };
  }
  return { kind: 'checkpoint' as const, ...(await checkpointSource(db, c.id, field)) };
}

/**
 * The model an adapter applies to. A run that starts from an adapter trains that adapter further
 * (a full adapter on the same model, never a delta on the first), so the walk passes over adapter
 * ancestors to the first full model: a run's checkpoint, or the shipped base.
 */
export async function adapterBaseSource(
  db: Db,
  adapter: typeof checkpoints.$inferSelect,
  field: string,
): Promise<ClaimedTraining['baseModel']> {
  let current = adapter;
  for (let hops = 0; hops < 100; hops++) {
    const [parent] = current.baseCheckpointId
      ? await db.select().from(checkpoints).where(eq(checkpoints.id, current.baseCheckpointId))
      : [];
    if (!parent) return { kind: 'builtin', name: 'tiny-base' };
    if (parent.kind !== 'adapter') return modelSource(db, parent, field);
    current = parent;
  }
  throw new AppError(
    409,
    'conflict',
    `${field}: checkpoint ${adapter.id}: its lineage does not end`,
  );
}

/** The run's training datasets, unless this checkpoint's memorisation was measured already. */
async function memorisationData(db: Db, checkpoint: typeof checkpoints.$inferSelect) {
  const [measured] = await db
    .select({ id: findings.id })
    .from(findings)
    .where(and(eq(findings.checkpointId, checkpoint.id), eq(findings.detector, 'memorisation')))
    .limit(1);
  if (measured) return undefined;
  const rows = await db
    .select({
      name: datasets.name,
      kind: datasets.kind,
      version: datasetVersions.version,
      sha256: datasetVersions.sha256,
    })
    .from(runDatasets)
    .innerJoin(datasetVersions, eq(datasetVersions.id, runDatasets.datasetVersionId))
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(and(eq(runDatasets.runId, checkpoint.runId!), eq(runDatasets.role, 'train')));
  return rows.map((r) => ({
    kind: r.kind,
    sha256: r.sha256,
    path: `/projects/${checkpoint.projectId}/datasets/${encodeURIComponent(r.name)}/versions/${r.version}/content`,
  }));
}

async function describeEvaluation(
  db: Db,
  jobId: string,
  evaluationId: string,
  attempt: number,
): Promise<ClaimedEvaluation> {
  const { evaluation, version, suite, checkpoint } = await evaluationContext(db, evaluationId);
  const [dv] = await db
    .select({
      name: datasets.name,
      version: datasetVersions.version,
      sha256: datasetVersions.sha256,
      rowCount: datasetVersions.rowCount,
    })
    .from(datasetVersions)
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(eq(datasetVersions.id, version.datasetVersionId));
  if (!dv) throw notFound(`dataset version ${version.datasetVersionId}`);
  const adapterBase =
    checkpoint.kind === 'adapter'
      ? await adapterBaseSource(db, checkpoint, 'baseCheckpointId')
      : undefined;
  return {
    kind: 'evaluate',
    memorisation: checkpoint.runId ? await memorisationData(db, checkpoint) : undefined,
    job: { id: jobId, attempt },
    evaluation: {
      id: evaluation.id,
      suite: suite.name,
      purpose: suite.purpose,
      suiteVersion: version.version,
      metrics: version.metrics as string[],
      decoding: version.decoding as Record<string, unknown>,
      dataset: {
        path: `/projects/${suite.projectId}/datasets/${encodeURIComponent(dv.name)}/versions/${dv.version}/content`,
        sha256: dv.sha256,
        rowCount: dv.rowCount,
      },
    },
    model: await modelSource(db, checkpoint, 'checkpointId'),
    modelKind: checkpoint.kind,
    adapterBase,
  };
}

/**
 * Hands the oldest waiting job to `workerId`: the queue picks it (skip-locked, so concurrent
 * claims never collide), we record who has it and mark its run running. A job whose run was
 * cancelled while it waited is dropped here and the next one tried.
 */
export async function claimJob(
  db: Db,
  queue: JobQueue,
  workerId: string,
): Promise<ClaimedJob | undefined> {
  for (;;) {
    const claimed = await queue.claim();
    if (!claimed) return undefined;
    const now = new Date();
    const [job] = await db
      .update(jobs)
      .set({
        status: 'running',
        workerId,
        attempts: claimed.retryCount + 1,
        startedAt: now,
        heartbeatAt: now,
      })
      // 'running' too: a job the queue expired behind our back is taken over by the new worker.
      .where(and(eq(jobs.id, claimed.id), inArray(jobs.status, ['queued', 'running'])))
      .returning();
    if (job?.kind === 'evaluate' && job.evaluationId) {
      await db
        .update(evaluations)
        .set({ status: 'running', startedAt: sql`coalesce(${evaluations.startedAt}, now())` })
        .where(eq(evaluations.id, job.evaluationId));
      try {
        return await describeEvaluation(db, job.id, job.evaluationId, job.attempts);
      } catch (err) {
        await failJob(db, queue, job.id, workerId, (err as Error).message, false);
        continue;
      }
    }
    const [run] = job?.runId
      ? await db
          .update(runs)
          .set({ status: 'running', startedAt: sql`coalesce(${runs.startedAt}, now())` })
          .where(and(eq(runs.id, job.runId), inArray(runs.status, ['queued', 'running'])))
          .returning({ id: runs.id })
      : [];
    if (!job || !run) {
      if (job) await db.update(jobs).set({ status: 'cancelled' }).where(eq(jobs.id, job.id));
      await queue.cancel(claimed.id);
      continue;
    }
    try {
      return await describeJob(
        db,
        job.id,
        run.id,
        job.attempts,
        job.payload as Partial<TrainPayload>,
      );
    } catch (err) {
      // A job no worker could ever run (its base checkpoint is gone, say) fails now, not after
      // every worker has tripped over it.
      await failJob(db, queue, job.id, workerId, (err as Error).message, false);
    }
  }
}

async function ownJob(db: Db, jobId: string, workerId: string) {
  const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId));
  if (!job) throw notFound(`job ${jobId}`);
  return { job, mine: job.status === 'running' && job.workerId === workerId };
}

/**
 * A worker's sign of life. The answer tells it to stop when the run was cancelled or the job was
 * given to another worker after this one went quiet.
 */
export async function heartbeat(
  db: Db,
  jobId: string,
  workerId: string,
): Promise<{ stop: boolean; reason?: 'cancelled' | 'reassigned' }> {
  const [beat] = await db
    .update(jobs)
    .set({ heartbeatAt: new Date() })
    .where(and(eq(jobs.id, jobId), eq(jobs.workerId, workerId), eq(jobs.status, 'running')))
    .returning({ id: jobs.id });
  if (beat) return { stop: false };
  const { job } = await ownJob(db, jobId, workerId);
  return { stop: true, reason: job.status === 'cancelled' ? 'cancelled' : 'reassigned' };
}

async function finishRun(
  db: Db,
  runId: string | null,
  status: 'finished' | 'failed' | 'queued',
  error: string | null,
) {
  if (!runId) return;
  await db
    .update(runs)
    .set({ status, error, endedAt: status === 'queued' ? null : new Date() })
    .where(and(eq(runs.id, runId), inArray(runs.status, ['queued', 'running'])));
}

/** The worker's report that the training finished. */
export async function completeJob(
  db: Db,
  queue: JobQueue,
  jobId: string,
  workerId: string,
  result: JobResult,
): Promise<typeof jobs.$inferSelect> {
  const { job, mine } = await ownJob(db, jobId, workerId);
  if (!mine) throw new AppError(409, 'conflict', `job ${jobId} is not running on ${workerId}`);
  await queue.complete(jobId, result);
  await db
    .update(jobs)
    .set({ status: 'finished', finishedAt: new Date(), error: null })
    .where(eq(jobs.id, jobId));
  await finishRun(db, job.runId, 'finished', null);
  return job;
}

/**
 * A failed attempt. `retryable` failures go back to the queue while attempts remain (the run waits
 * as `queued` again, the error kept on the job); the others, and the last attempt, fail the run.
 */
export async function failJob(
  db: Db,
  queue: JobQueue,
  jobId: string,
  workerId: string | null,
  error: string,
  retryable: boolean,
): Promise<'retry' | 'failed'> {
  // workerId null: the reaper, which already took the job from its silent worker.
  const { job, mine } = await ownJob(db, jobId, workerId ?? '');
  if (workerId !== null && !mine) {
    throw new AppError(409, 'conflict', `job ${jobId} is not running on ${workerId}`);
  }
  let outcome: 'retry' | 'failed' = 'failed';
  if (retryable) outcome = await queue.fail(jobId, error);
  else await queue.cancel(jobId);
  await db
    .update(jobs)
    .set({
      status: outcome === 'retry' ? 'queued' : 'failed',
      workerId: null,
      error,
      finishedAt: outcome === 'retry' ? null : new Date(),
    })
    .where(eq(jobs.id, jobId));
  await finishRun(db, job.runId, outcome === 'retry' ? 'queued' : 'failed', error);
  if (job.evaluationId)
    await db
      .update(evaluations)
      .set(
        outcome === 'retry'
          ? { status: 'queued' }
          : { status: 'failed', error, finishedAt: new Date() },
      )
      .where(eq(evaluations.id, job.evaluationId));
  return outcome;
}

/** Stops the jobs of a cancelled run: waiting ones never start, running ones hear it at their next heartbeat. */
export async function cancelRunJobs(db: Db, queue: JobQueue, runId: string): Promise<void> {
  const cancelled = await db
    .update(jobs)
    .set({ status: 'cancelled', finishedAt: new Date() })
    .where(and(eq(jobs.runId, runId), inArray(jobs.status, ['queued', 'running'])))
    .returning({ id: jobs.id });
  for (const { id } of cancelled) await queue.cancel(id);
}

/**
 * Jobs whose worker stopped heartbeating (killed, partitioned, its machine gone) are failed as a
 * retryable attempt, so the queue hands them to another worker, which resumes from the last
 * checkpoint. The conditional update makes this safe with several servers reaping at once.
 */
export async function reapStaleJobs(
  db: Db,
  queue: JobQueue,
  staleSeconds: number,
): Promise<string[]> {
  const stale = await db
    .update(jobs)
    .set({ workerId: null })
    .where(
      and(
        eq(jobs.status, 'running'),
        lt(jobs.heartbeatAt, sql`now() - make_interval(secs => ${staleSeconds})`),
      ),
    )
    .returning({ id: jobs.id });
  for (const { id } of stale) {
    await failJob(
      db,
      queue,
      id,
      null,
      `the worker stopped heartbeating for ${staleSeconds} s`,
      true,
    );
  }
  return stale.map((s) => s.id);
}
