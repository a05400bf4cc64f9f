import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { AppError } from '../http/errors.ts';
import { PARAM_VALUE_MAX, TAG_VALUE_MAX } from '../schemas/runs.ts';
import { logMetrics } from '../services/metrics.ts';
import {
  createRun,
  deleteTag,
  findRun,
  logParams,
  setRunDeleted,
  setTags,
  updateRun,
} from '../services/runs.ts';
import { MlflowError } from './errors.ts';
import {
  assertActive,
  epochMillis,
  experimentFor,
  fromMlflowStatus,
  idString,
  INPUTS_TAG,
  int64,
  key,
  keyValue,
  metricValue,
  presentMlflowRuns,
  RUN_NAME_TAG,
  runFor,
  runIdFields,
  runIdOf,
  USER_TAG,
} from './tracking.ts';
import { ok, params } from './wire.ts';

const paramValue = z
  .union([z.string(), z.number().transform(String)])
  .pipe(z.string().max(PARAM_VALUE_MAX, `must be at most ${PARAM_VALUE_MAX} characters`));
const tagValue = z.string().max(TAG_VALUE_MAX, `must be at most ${TAG_VALUE_MAX} characters`);
const metric = z.object({
  key,
  value: metricValue,
  timestamp: int64.optional(),
  step: int64.optional(),
});
const param = z.object({ key, value: paramValue });
const tag = z.object({ key, value: tagValue });
const status = z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);

// log-inputs' datasets, as MLflow's Dataset message; kept whole in one hidden run tag.
const INPUTS_MAX = 64 * 1024;
const datasetInput = z.object({
  tags: z.array(keyValue).max(100).optional(),
  dataset: z.object({
    name: z.string().min(1).max(500),
    digest: z.string().min(1).max(36),
    source_type: z.string().min(1).max(36),
    source: z.string().max(65_535),
    schema: z.string().optional(),
    profile: z.string().optional(),
  }),
});

/**
 * Metrics go through heldout's ingest, whose points are keyed (series, step). MLflow keeps every
 * (timestamp, value) logged at a step, and `log_metric` without a step logs at step 0 each time.
 * Decision: the NEWEST WRITE WINS for a step - the point logged last replaces the one stored at
 * that step (its value and timestamp), never a 5xx, and retrying a point changes nothing. The run's
 * latest value (runs/get, search) is the one at the highest step. Clients that want every value
 * kept log distinct steps, as MLflow's own autologging does.
 */
async function ingest(deps: AppDeps, runId: string, points: z.infer<typeof metric>[]) {
  await logMetrics(
    deps.database.sql,
    runId,
    points.map((p) => ({ key: p.key, value: p.value, step: p.step ?? 0, timestamp: p.timestamp })),
    { maxKeys: deps.config.HELDOUT_MAX_METRIC_KEYS },
  );
}

/** Params are immutable: a different value for a logged key is MLflow's INVALID_PARAMETER_VALUE. */
async function logParamsOrRefuse(deps: AppDeps, runId: string, values: Record<string, string>) {
  try {
    await logParams(deps.database.db, runId, values);
  } catch (err) {
    if (err instanceof AppError && err.status === 409)
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `Changing param values is not allowed: ${err.message}`,
      );
    throw err;
  }
}

const reserved = (k: string) => {
  if (k === INPUTS_TAG)
    throw new MlflowError('INVALID_PARAMETER_VALUE', `Tag '${k}' is reserved; use log-inputs`);
};

/** Tags as MLflow sends them; mlflow.runName renames the run (heldout keeps the name once). */
async function applyTags(deps: AppDeps, runId: string, tags: { key: string; value: string }[]) {
  const record: Record<string, string> = {};
  for (const t of tags) {
    reserved(t.key);
    if (t.key !== RUN_NAME_TAG) record[t.key] = t.value;
  }
  const name = tags.findLast((t) => t.key === RUN_NAME_TAG)?.value;
  if (name) await updateRun(deps.database.db, runId, { name: name.slice(0, 250) });
  await setTags(deps.database.db, runId, record);
}

/** Runs: create, read, update, delete, restore, and logging metrics, params, tags and inputs. */
export function mlflowRunRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const reply = async (c: Context<AppEnv>, runId: string) => {
    const [run] = await presentMlflowRuns(db, [await findRun(db, runId)]);
    return ok(c, { run });
  };
  const setLifecycle = (deleted: boolean) => async (c: Context<AppEnv>) => {
    const runId = runIdOf(await params(c, z.object(runIdFields)));
    // Deleting a deleted run, or restoring one, is fine: only authorisation matters here.
    const run = await runFor(deps, c, runId, 'write', true);
    await setRunDeleted(db, run.id, deleted);
    return ok(c);
  };

  return new Hono<AppEnv>()
    .post('/runs/create', async (c) => {
      const body = await params(
        c,
        z.object({
          experiment_id: idString,
          run_name: z.string().max(250).optional(),
          start_time: epochMillis.optional(),
          user_id: z.string().max(250).optional(),
          tags: z.array(tag).max(100).optional(),
        }),
      );
      const project = await experimentFor(deps, c, body.experiment_id, 'write');
      assertActive(project);
      const tags = body.tags ?? [];
      tags.forEach((t) => reserved(t.key));
      const record = Object.fromEntries(
        tags.filter((t) => t.key !== RUN_NAME_TAG).map((t) => [t.key, t.value]),
      );
      if (body.user_id && !(USER_TAG in record)) record[USER_TAG] = body.user_id;
      const name = body.run_name || tags.findLast((t) => t.key === RUN_NAME_TAG)?.value;
      const row = await createRun(
        db,
        project.id,
        { name: name ? name.slice(0, 250) : undefined, tags: record },
        c.get('principal')?.tokenId,
      );
      if (body.start_time !== undefined)
        await updateRun(db, row.id, { startedAt: new Date(body.start_time) });
      return reply(c, row.id);
    })
    .get('/runs/get', async (c) => {
      const run = await runFor(deps, c, runIdOf(await params(c, z.object(runIdFields))), 'read');
      return reply(c, run.id);
    })
    .post('/runs/update', async (c) => {
      const body = await params(
        c,
        z.object({
          ...runIdFields,
          status: status.optional(),
          end_time: epochMillis.optional(),
          run_name: z.string().min(1).max(250).optional(),
        }),
      );
      const run = await runFor(deps, c, runIdOf(body), 'write');
      try {
        await updateRun(db, run.id, {
          status: body.status && fromMlflowStatus[body.status],
          name: body.run_name,
          endedAt: body.end_time === undefined ? undefined : new Date(body.end_time),
        });
      } catch (err) {
        // heldout's state machine: an ended run stays ended (MLflow's "resume" is refused).
        if (err instanceof AppError && err.status === 409)
          throw new MlflowError('INVALID_STATE', err.message);
        throw err;
      }
      const [presented] = await presentMlflowRuns(db, [await findRun(db, run.id)]);
      return ok(c, { run_info: presented!.info });
    })
    .post('/runs/delete', setLifecycle(true))
    .post('/runs/restore', setLifecycle(false))
    .post('/runs/log-metric', async (c) => {
      const body = await params(c, z.object({ ...runIdFields, ...metric.shape }));
      const run = await runFor(deps, c, runIdOf(body), 'write');
      await ingest(deps, run.id, [body]);
      return ok(c);
    })
    .post('/runs/log-parameter', async (c) => {
      const body = await params(c, z.object({ ...runIdFields, ...param.shape }));
      const run = await runFor(deps, c, runIdOf(body), 'write');
      await logParamsOrRefuse(deps, run.id, { [body.key]: body.value });
      return ok(c);
    })
    .post('/runs/set-tag', async (c) => {
      const body = await params(c, z.object({ ...runIdFields, ...tag.shape }));
      const run = await runFor(deps, c, runIdOf(body), 'write');
      await applyTags(deps, run.id, [body]);
      return ok(c);
    })
    .post('/runs/delete-tag', async (c) => {
      const body = await params(c, z.object({ ...runIdFields, key }));
      const run = await runFor(deps, c, runIdOf(body), 'write');
      reserved(body.key);
      try {
        await deleteTag(db, run.id, body.key);
      } catch (err) {
        if (err instanceof AppError && err.status === 404)
          throw new MlflowError(
            'RESOURCE_DOES_NOT_EXIST',
            `No tag with name: ${body.key} in run with id ${run.id}`,
          );
        throw err;
      }
      return ok(c);
    })
    .post('/runs/log-batch', async (c) => {
      const body = await params(
        c,
        z
          .object({
            ...runIdFields,
            metrics: z.array(metric).max(1000, 'at most 1000 metrics per batch').default([]),
            params: z.array(param).max(100, 'at most 100 params per batch').default([]),
            tags: z.array(tag).max(100, 'at most 100 tags per batch').default([]),
          })
          .refine((b) => b.metrics.length + b.params.length + b.tags.length <= 1000, {
            message: 'at most 1000 metrics, params and tags in all per batch',
          }),
      );
      const run = await runFor(deps, c, runIdOf(body), 'write');
      body.tags.forEach((t) => reserved(t.key));
      // Everything is validated above; params go first since they are the one write that can
      // still be refused (a changed value), and then nothing else of the batch is stored.
      const values: Record<string, string> = {};
      for (const p of body.params) {
        if (p.key in values && values[p.key] !== p.value)
          throw new MlflowError(
            'INVALID_PARAMETER_VALUE',
            `Duplicate param '${p.key}' with different values in one batch`,
          );
        values[p.key] = p.value;
      }
      await logParamsOrRefuse(deps, run.id, values);
      await applyTags(deps, run.id, body.tags);
      if (body.metrics.length) await ingest(deps, run.id, body.metrics);
      return ok(c);
    })
    .post('/runs/log-inputs', async (c) => {
      const body = await params(
        c,
        z.object({ ...runIdFields, datasets: z.array(datasetInput).max(1000).default([]) }),
      );
      const run = await runFor(deps, c, runIdOf(body), 'write');
      const [current] = await presentMlflowRuns(db, [run]);
      // Kept as MLflow keeps them: one entry per (name, digest); a dataset logged again is
      // replaced by its newest description.
      const byId = new Map(
        current!.inputs.dataset_inputs.map((d) => [
          `${d.dataset.name}\u0000${d.dataset.digest}`,
          d,
        ]),
      );
      for (const d of body.datasets) byId.set(`${d.dataset.name}\u0000${d.dataset.digest}`, d);
      const text = JSON.stringify([...byId.values()]);
      if (text.length > INPUTS_MAX)
        throw new MlflowError(
          'INVALID_PARAMETER_VALUE',
          `Invalid value for parameter 'datasets': the run's inputs would take ${text.length} characters, more than the ${INPUTS_MAX} heldout keeps`,
        );
      await setTags(db, run.id, { [INPUTS_TAG]: text });
      return ok(c);
    });
}
